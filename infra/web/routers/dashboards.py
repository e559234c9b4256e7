"""The compliance dashboard (docs/DOMAIN.md §6 "Compliance"): figures per place and month, and
the same figures as a spreadsheet with Chinese headings."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from domain.actor import Actor
from domain.values import utcnow
from infra import xlsx_writer
from infra.services import Services
from infra.web.dependencies import ActorDep, CaughtUp, ServicesDep
from infra.web.reach import record_shown
from projections.compliance import FIGURES, SHANGHAI, ComplianceView
from services.jurisdiction import reach_clause, sees_files
from services.permissions import require

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
router = APIRouter(prefix="/dashboards", tags=["dashboards"])

Place = Annotated[str | None, Query(max_length=100)]
Month = Annotated[str | None, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$",
                                    description="YYYY-MM; the current month by default")]


def compliance(s: Services, actor: Actor, request: Request, township: str | None,
               village: str | None, school: str | None, month: str | None) -> dict[str, Any]:
    """The figures of the active files in the caller's reach and the filters' scope; the
    children behind them named to those who read files (each read logged), to auditors by
    id and place only."""
    require(actor, "dashboard.read")
    now = utcnow().astimezone(SHANGHAI)
    month = month or now.strftime("%Y-%m")
    view: ComplianceView = s.views["compliance"]
    actions = s.views.get("actions")  # case-conference actions, when that view is installed
    tables = (actions.children, actions.actions) if actions is not None else None
    params: list[Any] = [month, month, *([now.date().isoformat()] if tables else [])]
    filters = {"township": township, "village": village, "school": school}
    where, args = ["r.status = 'active'"], []
    for column, value in filters.items():
        if value:
            where.append(f"r.{column} = ?")
            args.append(value)
    reach, reach_args = reach_clause(actor, s.directory.pairings)
    where.append(f"({reach})")
    flags = view.flags_sql(s.registry.children, s.directory.pairings, tables)
    with s.db.reading() as cur:
        figures = view.dashboard(cur, flags, params, (" AND ".join(where), [*args, *reach_args]))
    listed = [child for figure in figures.values() for child in figure["shortfall"]]
    if sees_files(actor):
        record_shown(s, actor, request, [child["child_id"] for child in listed], ("name",))
    else:
        for child in listed:
            child["name"] = None
    return {"month": month, "filters": {k: v for k, v in filters.items() if v},
            "computed_at": now.isoformat(), "figures": figures}


@router.get("/compliance", dependencies=[CaughtUp])
def compliance_dashboard(request: Request, s: ServicesDep, actor: ActorDep,
                         township: Place = None, village: Place = None, school: Place = None,
                         month: Month = None) -> dict[str, Any]:
    return compliance(s, actor, request, township, village, school, month)


@router.get("/compliance.xlsx", dependencies=[CaughtUp])
def compliance_export(request: Request, s: ServicesDep, actor: ActorDep,
                      township: Place = None, village: Place = None, school: Place = None,
                      month: Month = None) -> Response:
    found = compliance(s, actor, request, township, village, school, month)
    name = f"compliance-{found['month']}.xlsx"
    return Response(compliance_workbook(found), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


LABELS = {
    "registered": "在册儿童",
    "complete_files": "档案完整（建档率）",
    "paired": "已结对帮扶",
    "visited": "本月已走访",
    "parent_feedback": "本月已向父母反馈",
    "open_incidents": "未结突发事件",
    "overdue_actions": "逾期未完成行动",
}
FIGURE_HEADINGS = ["月份", "指标", "人数", "总数", "百分比（%）"]
CHILD_HEADINGS = ["指标", "儿童编号", "姓名", "学校", "班级", "村（社区）", "缺少项目"]


def compliance_workbook(found: dict[str, Any]) -> bytes:
    """Sheets 指标 (one line per figure) and 未达标儿童 (one line per child and figure)."""
    figures = [[found["month"], LABELS[key], found["figures"][key]["count"],
                found["figures"][key]["total"], found["figures"][key]["percent"]]
               for key in FIGURES]
    children = [[LABELS[key], child["child_id"], child["name"], child["school"],
                 child["class_name"], child["village"], "、".join(child.get("missing", []))]
                for key in FIGURES for child in found["figures"][key]["shortfall"]]
    return xlsx_writer.workbook([xlsx_writer.Sheet("指标", FIGURE_HEADINGS, figures),
                                 xlsx_writer.Sheet("未达标儿童", CHILD_HEADINGS, children)])
