"""Grants and the disbursement audit over HTTP: docs/DOMAIN.md §5."""

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse

from infra import xlsx_writer
from infra.services import Services
from infra.web.dependencies import ActorDep, CaughtUp, IdemDep, ServicesDep
from infra.web.reach import within_sql
from infra.web.routers.children import answer
from projections.grants_audit import GrantsAuditView
from projections.ledger import LedgerView
from services import grant_handlers as g
from services.permissions import require

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
router = APIRouter(tags=["grants"])


def handlers(s: Services) -> g.GrantHandlers:
    # Stateless apart from the application: cheap to make per request.
    return g.GrantHandlers(s.app)


def audit(s: Services) -> GrantsAuditView:
    return s.views["grants_audit"]  # type: ignore[no-any-return]


def ledger(s: Services) -> LedgerView:
    return s.views["ledger"]  # type: ignore[no-any-return]


@router.post("/programmes", status_code=201)
def create_programme(cmd: g.CreateProgramme, s: ServicesDep, actor: ActorDep,
                     idem: IdemDep) -> JSONResponse:
    return answer(handlers(s).create_programme(cmd, actor, idem))


@router.post("/grants", status_code=201)
def approve_grant(cmd: g.ApproveGrant, s: ServicesDep, actor: ActorDep,
                  idem: IdemDep) -> JSONResponse:
    return answer(handlers(s).approve(cmd, actor, idem))


@router.post("/grants/{grant_id}/disbursement")
def disburse_grant(grant_id: UUID, cmd: g.DisburseGrant, s: ServicesDep, actor: ActorDep,
                   idem: IdemDep) -> JSONResponse:
    return answer(handlers(s).disburse(grant_id, cmd, actor, idem))


@router.post("/grants/{grant_id}/revocation")
def revoke_grant(grant_id: UUID, cmd: g.RevokeGrant, s: ServicesDep, actor: ActorDep,
                 idem: IdemDep) -> JSONResponse:
    return answer(handlers(s).revoke(grant_id, cmd, actor, idem))


@router.get("/audit/grants", dependencies=[CaughtUp])
def grant_totals(s: ServicesDep, actor: ActorDep, programme: str | None = None,
                 period: str | None = None, agency: str | None = None,
                 township: str | None = None) -> dict[str, Any]:
    require(actor, "audit.read")
    filters = {"programme": programme, "period": period, "agency": agency, "township": township}
    reach = within_sql(s, actor, "g.child_id")
    with s.db.reading() as cur:
        items = audit(s).totals(cur, {k: v for k, v in filters.items() if v}, reach)
    return {"items": items}


@router.get("/audit/grants/anomalies", dependencies=[CaughtUp])
def grant_anomalies(s: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    require(actor, "audit.read")
    with s.db.reading() as cur:
        return {"items": audit(s).anomalies(cur, within_sql(s, actor, "g.child_id"))}


@router.get("/audit/grants/export.xlsx", dependencies=[CaughtUp])
def grants_export(s: ServicesDep, actor: ActorDep) -> Response:
    """The totals and the anomalies as a spreadsheet, the same figures as the two GETs: of
    the grants to children in the caller's reach."""
    require(actor, "audit.read")
    reach = within_sql(s, actor, "g.child_id")
    with s.db.reading() as cur:
        view = audit(s)
        totals, grants = view.totals(cur, {}, reach), view.all_grants(cur, reach)
        found = view.anomalies(cur, reach)
    return Response(audit_workbook(totals, grants, found), media_type=XLSX, headers={
        "Content-Disposition": 'attachment; filename="grants-audit.xlsx"'})


TOTAL_HEADINGS = ["项目", "期间", "审批单位", "乡镇", "笔数", "审批金额（分）", "发放金额（分）",
                  "撤销金额（分）"]
ANOMALY_HEADINGS = ["救助编号", "儿童编号", "违反规则", "说明"]
GRANT_HEADINGS = ["救助编号", "儿童编号", "项目", "期间", "金额（分）", "方式", "审批人",
                  "审批单位", "审批时间", "发放人", "发放时间", "已撤销"]
GRANT_COLUMNS = ("grant_id", "child_id", "programme", "period", "amount_fen", "kind", "approver",
                 "agency", "approved_at", "disburser", "disbursed_at")


def audit_workbook(totals: list[dict[str, Any]], grants: list[dict[str, Any]],
                   found: list[dict[str, Any]]) -> bytes:
    """Sheets 汇总, 救助明细 and 异常, Chinese headings, amounts in fen as in the API."""
    return xlsx_writer.workbook([
        xlsx_writer.Sheet("汇总", TOTAL_HEADINGS, ([
            row["programme"], row["period"], row["agency"], row["township"], row["count"],
            row["approved_fen"], row["disbursed_fen"], row["revoked_fen"]] for row in totals)),
        xlsx_writer.Sheet("救助明细", GRANT_HEADINGS, (
            [*(row[c] for c in GRANT_COLUMNS), "是" if row["revoked"] else "否"]
            for row in grants)),
        xlsx_writer.Sheet("异常", ANOMALY_HEADINGS, (
            [row["grant_id"], row["child_id"], row["rule"], row["detail"]] for row in found)),
    ])


@router.get("/audit/ledger", dependencies=[CaughtUp])
def ledger_head(s: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    require(actor, "audit.read")
    with s.db.reading() as cur:
        return ledger(s).head(cur)


@router.get("/audit/ledger/verify", dependencies=[CaughtUp])
def ledger_verify(s: ServicesDep, actor: ActorDep) -> dict[str, Any]:
    require(actor, "audit.read")
    with s.db.reading() as cur:
        return ledger(s).verify(cur, s.app.recorder)
