"""Assessments (考核) over HTTP: docs/DOMAIN.md §7, and the year's .xlsx export."""

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from fastapi.responses import JSONResponse, Response

from domain.assessment import DEFAULT_SCHEME
from domain.errors import NotFound
from domain.actor import Actor
from infra import xlsx_writer
from infra.services import Services
from infra.web.dependencies import ActorDep, CaughtUp, IdemDep, ServicesDep
from infra.web.errors import NotCaughtUp
from infra.web.reach import record_shown, within
from infra.web.routers.children import answer
from projections.assessment import AssessmentView
from services.assessment_handlers import AssessmentHandlers
from services.jurisdiction import sees_files
from services.permissions import require

router = APIRouter(prefix="/assessments", tags=["assessments"])
Year = Annotated[int, Path(ge=2000, le=2100)]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
AWARD_KINDS = ("rank_first", "rank_top5", "progress")


def view(s: Services) -> AssessmentView:
    return s.views["assessment"]  # type: ignore[no-any-return]


def read_year(s: Services, school_year: int) -> dict[str, Any]:
    """The year as the API shows it: frozen if published, with trails per assessee."""
    with s.db.reading() as cur:
        return view(s).assessment(cur, school_year)


def year_in_reach(s: Services, actor: Actor, school_year: int) -> dict[str, Any]:
    """The year as this actor may see it: the figures of the children in reach, and the
    assessees whose figures rest on one of them (their trails cut to those children)."""
    require(actor, "assessment.read")
    found = read_year(s, school_year)
    with s.db.reading() as cur:
        mine = within(s, actor, cur)
    return found if mine is None else cut(found, mine)


def cut(found: dict[str, Any], mine: set[str]) -> dict[str, Any]:
    """Every line naming a child outside `mine` goes; so does an assessee left with none."""
    trails = {}
    for helper_id, trail in found.get("trails", {}).items():
        lines = [line for line in trail["lines"] if line["child_id"] in mine]
        if lines:
            trails[helper_id] = {**trail, "lines": lines}
    return {**found, "trails": trails,
            "assessees": [a for a in found["assessees"] if a["helper_id"] in trails],
            **{key: [row for row in found[key] if row["child_id"] in mine]
               for key in ("children", "student_awards", "amendments")}}


def names_shown(s: Services, actor: Actor, request: Request,
                found: dict[str, Any]) -> dict[str, str]:
    """The names of the awarded children, for those who read files; each read logged."""
    if not sees_files(actor):
        return {}
    with s.db.reading() as cur:
        names = view(s).child_names(cur)
    awarded = [row["child_id"] for row in found["student_awards"] if row["child_id"] in names]
    record_shown(s, actor, request, awarded, ("name",))
    return {child_id: names[child_id] for child_id in awarded}


@router.get("/{school_year}", dependencies=[CaughtUp])
def assessment_year(school_year: Year, s: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    found = year_in_reach(s, actor, school_year)
    found.pop("trails", None)  # the per-assessee audit has its own path
    return found


@router.get("/{school_year}/helpers/{helper_id}", dependencies=[CaughtUp])
def assessee_trail(school_year: Year, helper_id: str, s: ServicesDep,
                   actor: ActorDep) -> dict[str, Any]:
    found = year_in_reach(s, actor, school_year)
    trail = found["trails"].get(helper_id)
    if trail is None:
        raise NotFound(f"this helper is not assessed for {school_year} within your reach")
    return {"school_year": school_year, "scheme_version": found["scheme_version"],
            "published": found["published"], **trail}


@router.post("/{school_year}/publication", status_code=201)
def publish(school_year: Year, s: ServicesDep, actor: ActorDep, idem: IdemDep) -> JSONResponse:
    require(actor, "assessment.publish")
    # Freeze what the store holds now: the view must have read every recorded fact first.
    if not s.runner.wait_for(s.app.max_position(), s.settings.wait_timeout_seconds):
        raise NotCaughtUp("the assessment view is behind the store; retry")
    with s.db.reading() as cur:
        figures = view(s).figures(cur, school_year, DEFAULT_SCHEME)
    handlers = AssessmentHandlers(s.app)
    return answer(handlers.publish(school_year, DEFAULT_SCHEME.version, figures, actor, idem))


@router.get("/{school_year}/export.xlsx", dependencies=[CaughtUp])
def export(school_year: Year, request: Request, s: ServicesDep, actor: ActorDep) -> Response:
    found = year_in_reach(s, actor, school_year)
    names = names_shown(s, actor, request, found)
    return Response(workbook(found, names), media_type=XLSX, headers={
        "Content-Disposition": f'attachment; filename="assessment-{school_year}.xlsx"'})


HELPER_HEADINGS = ["编号", "姓名", "考核分", "奖励金额（分）", "奖励金额（元）"]
AWARD_HEADINGS = ["学生编号", "姓名", "第一名奖（分）", "优秀奖（分）", "进步奖（分）", "合计（分）"]


def workbook(found: dict[str, Any], names: dict[str, str]) -> bytes:
    """Sheets 志愿者, 班主任 and 学生奖励, with the same figures as the API."""
    sheets = [xlsx_writer.Sheet(title, HELPER_HEADINGS, [
        [row["helper_id"], row["name"], row["points"], row["award_fen"], row["award_fen"] / 100]
        for row in found["assessees"] if row["kind"] == kind])
        for kind, title in (("volunteer", "志愿者"), ("class_teacher", "班主任"))]
    awards = []
    for row in found["student_awards"]:
        amounts = {w["kind"]: w["amount_fen"] for w in row["awards"]}
        awards.append([row["child_id"], names.get(row["child_id"], ""),
                       *(amounts.get(kind, 0) for kind in AWARD_KINDS), row["total_fen"]])
    notes = [["学年", found["school_year"]], ["方案版本", found["scheme_version"]],
             ["已公布", "是" if found["published"] else "否"]]
    return xlsx_writer.workbook([*sheets, xlsx_writer.Sheet("学生奖励", AWARD_HEADINGS, awards),
                                 xlsx_writer.Sheet("说明", [], notes)])
