"""Grants, the disbursement audit and the ledger over HTTP, on SQLite and on PostgreSQL."""

import json
import sqlite3
import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.domain import Aggregate
from typer.testing import CliRunner

from domain.actor import Actor, current_actor
from domain.grant import Grant
from domain.recorded import meta
from tests.conftest import PG_URL, Api, register

PASSWORD = "grant-password-1"
TOWN, VILLAGE = "白沙关镇", "白沙关村"


def now() -> str:
    return datetime.now(UTC).isoformat()


def add_user(api: Api, username: str, agency: str, role: str) -> Api:
    body = {"username": username, "password": PASSWORD, "agency": agency, "role": role,
            "township": TOWN, "village": VILLAGE}
    response = api.post("/users", body)
    assert response.status_code == 201, response.text
    return api.as_user(username, PASSWORD)


def programme(api: Api, code: str = "DIBAO", cap_fen: int = 50000,
              period_kind: str = "monthly") -> None:
    response = api.post("/programmes", {"code": code, "name": "低保", "funding_agency":
                                        "civil_affairs", "cap_fen": cap_fen,
                                        "period_kind": period_kind})
    assert response.status_code == 201, response.text


def grant_body(child_id: str, **over: Any) -> dict[str, Any]:
    body = {"child_id": child_id, "programme": "DIBAO", "amount_fen": 30000,
            "period": "2026-06", "kind": "cash", "description": "六月低保"}
    body.update(over)
    return body


def approve(api: Api, child_id: str, **over: Any) -> dict[str, Any]:
    response = api.post("/grants", grant_body(child_id, **over))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def disburse(api: Api, grant_id: str, occurred_at: str | None = None, **headers: str) -> Any:
    body = {"occurred_at": occurred_at or now(), "method": "cash", "reference": "凭证001"}
    return api.post(f"/grants/{grant_id}/disbursement", body, **headers)


def anomalies(api: Api, position: int) -> list[dict[str, Any]]:
    response = api.get("/audit/grants/anomalies", min_position=position)
    assert response.status_code == 200, response.text
    return response.json()["items"]  # type: ignore[no-any-return]


def rules(api: Api, position: int) -> set[tuple[str, str]]:
    return {(a["grant_id"], a["rule"]) for a in anomalies(api, position)}


def imported(api: Api, who: str, build: Callable[[], Sequence[Aggregate]]) -> int:
    """History brought in from another system: written straight to the store, no rules."""
    services = api.client.app.state.services  # type: ignore[attr-defined]
    token = current_actor.set(Actor(who, who, "community", "admin"))
    try:
        recordings = services.app.save(*build())
    finally:
        current_actor.reset(token)
    return max(r.notification.id for r in recordings)  # type: ignore[no-any-return]


def raw_grant(child_id: str, amount_fen: int = 30000, period: str = "2026-06") -> Grant:
    return Grant._create(Grant.Approved, id=uuid4(), **meta(None), child_id=child_id,
                         programme="DIBAO", amount_fen=amount_fen, period=period, kind="cash",
                         description="导入")


def raw_disburse(grant: Grant, at: datetime | None = None) -> Grant:
    grant.trigger_event(Grant.Disbursed, **meta(at), method="cash", reference="导入")
    return grant


@pytest.fixture
def cashier(api: Api) -> Api:
    programme(api)
    return add_user(api, "cashier", "township", "township_supervisor")


# --- a Children's Day (六一) gift in kind, and the happy paths ---------------------------

def test_childrens_day_gifts_to_two_children_total_40000_fen(api: Api, cashier: Api) -> None:
    programme(api, "LIUYI", cap_fen=30000, period_kind="once")
    last = 0
    for name in ("张小明", "李小红"):
        child = register(api, name=name)
        grant = approve(api, child["id"], programme="LIUYI", amount_fen=20000,
                        period="2026-06-01", kind="in_kind", description="书包和文具")
        paid = disburse(cashier, grant["id"])
        assert paid.status_code == 200, paid.text
        last = paid.json()["position"]
    items = api.get("/audit/grants", min_position=last, programme="LIUYI").json()["items"]
    assert items == [{"programme": "LIUYI", "period": "2026-06-01", "agency": "township",
                      "township": TOWN, "count": 2, "approved_fen": 40000,
                      "disbursed_fen": 40000, "revoked_fen": 0}]
    assert anomalies(api, last) == []


def test_in_kind_grant_needs_a_description_of_the_goods(api: Api, cashier: Api) -> None:
    child = register(api)
    response = api.post("/grants", grant_body(child["id"], kind="in_kind", description=""))
    assert response.status_code == 422
    assert approve(api, child["id"], kind="in_kind", description="冬衣两件")["id"]


def test_grant_above_the_cap_or_of_the_wrong_period_is_refused(api: Api, cashier: Api) -> None:
    child = register(api)
    assert api.post("/grants", grant_body(child["id"], amount_fen=50001)).status_code == 422
    assert api.post("/grants", grant_body(child["id"], period="2026")).status_code == 422


def test_revocation_frees_the_slot_and_counts_as_revoked(api: Api, cashier: Api) -> None:
    child = register(api)
    first = approve(api, child["id"])
    assert api.post("/grants", grant_body(child["id"])).status_code == 409
    revoked = api.post(f"/grants/{first['id']}/revocation", {"reason": "重复申报"})
    assert revoked.status_code == 200, revoked.text
    assert disburse(cashier, first["id"]).status_code == 409  # revoked: no payment
    second = approve(api, child["id"], amount_fen=25000)
    paid = disburse(cashier, second["id"])
    assert api.post(f"/grants/{second['id']}/revocation", {"reason": "x"}).status_code == 409
    items = api.get("/audit/grants", min_position=paid.json()["position"]).json()["items"]
    assert [(i["count"], i["approved_fen"], i["disbursed_fen"], i["revoked_fen"])
            for i in items] == [(2, 55000, 25000, 30000)]


def test_retries_with_one_idempotency_key_make_one_grant_and_one_payment(
        api: Api, cashier: Api) -> None:
    child = register(api)
    first = api.post("/grants", grant_body(child["id"]), **{"Idempotency-Key": "g-1"})
    again = api.post("/grants", grant_body(child["id"]), **{"Idempotency-Key": "g-1"})
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    at = now()
    paid = disburse(cashier, first.json()["id"], at, **{"Idempotency-Key": "d-1"})
    repaid = disburse(cashier, first.json()["id"], at, **{"Idempotency-Key": "d-1"})
    assert paid.status_code == repaid.status_code == 200 and paid.json() == repaid.json()
    assert disburse(cashier, first.json()["id"]).status_code == 409  # a new key: already paid
    items = api.get("/audit/grants", min_position=paid.json()["position"]).json()["items"]
    assert [(i["count"], i["disbursed_fen"]) for i in items] == [(1, 30000)]


def test_two_agencies_approving_at_once_one_wins_one_gets_409(api: Api, cashier: Api) -> None:
    child = register(api)
    director = add_user(api, "wf_director", "womens_federation", "child_director")
    for attempt in range(3):
        period = f"2026-0{attempt + 1}"
        start = threading.Barrier(2)
        codes: list[int] = []

        def go(who: Api) -> None:
            start.wait()
            codes.append(who.post("/grants", grant_body(child["id"], period=period)).status_code)

        threads = [threading.Thread(target=go, args=(who,)) for who in (api, director)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(codes) == [201, 409], codes


# --- the anomaly rules ---------------------------------------------------------------------

def test_approver_may_not_disburse_and_imported_self_payment_is_flagged(
        api: Api, cashier: Api) -> None:
    child = register(api)
    grant = approve(api, child["id"])
    assert disburse(api, grant["id"]).status_code == 409
    made: list[Grant] = []
    position = imported(api, "wang", lambda: made.append(
        raw_disburse(raw_grant(child["id"], period="2026-05"))) or made)
    assert rules(api, position) == {(str(made[0].id), "approver_is_disburser")}


def test_imported_second_grant_for_the_same_period_is_flagged_on_both(
        api: Api, cashier: Api) -> None:
    child = register(api)
    grant = approve(api, child["id"])
    twin = raw_grant(child["id"])  # no slot: only imported history can hold this
    position = imported(api, "wang", lambda: [twin])
    found = anomalies(api, position)
    assert {(a["grant_id"], a["rule"]) for a in found} == {
        (grant["id"], "duplicate_period"), (str(twin.id), "duplicate_period")}
    assert all(a["child_id"] == child["id"] and a["detail"] for a in found)


def test_imported_grant_above_the_cap_is_flagged(api: Api, cashier: Api) -> None:
    child = register(api)
    big = raw_grant(child["id"], amount_fen=90000)
    position = imported(api, "wang", lambda: [big])
    assert rules(api, position) == {(str(big.id), "above_cap")}


def test_payment_after_revocation_is_disbursed_without_approval(api: Api, cashier: Api) -> None:
    child = register(api)
    grant = raw_grant(child["id"])
    grant.trigger_event(Grant.Revoked, **meta(None), reason="撤销")
    imported(api, "wang", lambda: [grant])
    position = imported(api, "li", lambda: [raw_disburse(grant)])
    assert rules(api, position) == {(str(grant.id), "disbursed_without_approval")}


def test_eligibility_is_judged_as_of_the_payment_time(api: Api, cashier: Api) -> None:
    closed_after, closed_before, grown_up, early = (register(api)["id"] for _ in range(4))
    paid_first = approve(api, closed_after)
    assert disburse(cashier, paid_first["id"]).status_code == 200
    for cid, status in ((closed_after, "closed"), (closed_before, "closed"),
                        (grown_up, "no_longer_left_behind")):
        changed = api.post(f"/children/{cid}/status", {"status": status, "reason": "核实"})
        assert changed.status_code == 200, changed.text
    flagged = {cid: approve(api, cid)["id"] for cid in (closed_before, grown_up, early)}
    for cid, grant_id in flagged.items():
        at = (datetime.now(UTC) - timedelta(days=2)).isoformat() if cid == early else now()
        last = disburse(cashier, grant_id, at).json()["position"]
    assert rules(api, last) == {(flagged[closed_before], "closed_at_payment"),
                                (flagged[grown_up], "not_left_behind_at_payment"),
                                (flagged[early], "not_registered_at_payment")}


def test_audit_is_for_auditors_not_for_teachers(api: Api, cashier: Api) -> None:
    auditor = add_user(api, "auditor1", "township", "auditor")
    assert auditor.get("/audit/grants").status_code == 200
    teacher = api.post("/users", {"username": "teacher1", "password": PASSWORD,
                                  "agency": "school", "role": "class_teacher",
                                  "school": "白沙关小学", "class_name": "六(2)班"})
    assert teacher.status_code == 201
    assert api.as_user("teacher1", PASSWORD).get("/audit/grants").status_code == 403
    assert auditor.post("/programmes", {"code": "X1", "name": "x", "funding_agency": "township",
                                        "cap_fen": 1, "period_kind": "once"}).status_code == 403


# --- the ledger ------------------------------------------------------------------------------

class RawStore:
    """Plain SQL on the stored events, as someone with database access could run it."""

    def __init__(self, database_url: str) -> None:
        if database_url.startswith("sqlite"):
            self.conn: Any = sqlite3.connect(database_url[len("sqlite:///"):])
            self.table, self.key, self.mark = "stored_events", "rowid", "?"
        else:
            schema = parse_qs(urlparse(database_url).query)["schema"][0]
            self.conn = psycopg.connect(PG_URL, autocommit=True)
            self.table, self.key, self.mark = f'"{schema}".qianshou_events', "notification_id", "%s"

    def run(self, sql: str, *params: Any) -> Any:
        cursor = self.conn.execute(sql.replace("?", self.mark), params)
        rows = cursor.fetchall() if sql.startswith("SELECT") else []
        self.conn.commit()
        return rows

    def state(self, position: int) -> bytes:
        rows = self.run(f"SELECT state FROM {self.table} WHERE {self.key} = ?", position)
        return bytes(rows[0][0])

    def set_state(self, position: int, state: bytes) -> None:
        self.run(f"UPDATE {self.table} SET state = ? WHERE {self.key} = ?", state, position)

    def delete(self, position: int) -> None:
        self.run(f"DELETE FROM {self.table} WHERE {self.key} = ?", position)


def tamper(store: RawStore, how: str, a: int, b: int) -> None:
    if how == "change":
        state = store.state(a)
        store.set_state(a, state[:-1] + b" " + state[-1:])  # still valid JSON: only bytes differ
    elif how == "delete":
        store.delete(a)
    else:
        first, second = store.state(a), store.state(b)
        store.set_state(a, second)
        store.set_state(b, first)


@pytest.mark.parametrize("how", ["change", "delete", "swap"])
def test_verify_finds_the_first_tampered_position(api: Api, how: str, database_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    positions = [register(api, name=f"张{n}")["position"] for n in "一二三四五"]
    head = api.get("/audit/ledger", min_position=positions[-1]).json()
    assert head["position"] == positions[-1] and len(head["head_hash"]) == 64
    clean = api.get("/audit/ledger/verify").json()
    assert clean == {**head, "ok": True, "first_bad_position": None}
    tamper(RawStore(database_url), how, positions[1], positions[3])
    result = api.get("/audit/ledger/verify").json()
    assert result["ok"] is False and result["first_bad_position"] == positions[1]
    monkeypatch.setenv("QIANSHOU_DATABASE_URL", database_url)
    monkeypatch.setenv("QIANSHOU_SECRET_KEY", "cli-secret-" + "x" * 32)
    from infra.cli import app as cli

    outcome = CliRunner().invoke(cli, ["ledger", "verify"])
    assert outcome.exit_code == 1, outcome.output
    assert json.loads(outcome.output)["first_bad_position"] == positions[1]


def test_the_ledger_keeps_up_with_new_events(api: Api) -> None:
    first = register(api)["position"]
    before = api.get("/audit/ledger", min_position=first).json()
    later = register(api)["position"]
    after = api.get("/audit/ledger", min_position=later).json()
    assert after["position"] == later and after["head_hash"] != before["head_hash"]
    assert api.get("/audit/ledger/verify").json()["ok"] is True


def test_audit_export_reads_back_equal_to_the_api(api: Api, cashier: Api) -> None:
    from io import BytesIO

    from openpyxl import load_workbook

    child = register(api)
    grant = approve(api, child["id"])
    twin = raw_grant(child["id"])
    position = imported(api, "wang", lambda: [twin])
    paid = disburse(cashier, grant["id"])
    position = max(position, paid.json()["position"])
    totals = api.get("/audit/grants", min_position=position).json()["items"]
    found = anomalies(api, position)
    response = api.get("/audit/grants/export.xlsx", min_position=position)
    assert response.status_code == 200
    book = load_workbook(BytesIO(response.content))
    assert book.sheetnames == ["汇总", "救助明细", "异常"]
    listed = list(book["救助明细"].iter_rows(values_only=True))[1:]
    assert sorted(r[0] for r in listed) == sorted([grant["id"], str(twin.id)])
    assert [r[9] for r in listed if r[0] == grant["id"]] == ["cashier"]
    sheet_totals = list(book["汇总"].iter_rows(values_only=True))
    assert sheet_totals[0][0] == "项目" and len(sheet_totals) == len(totals) + 1
    assert [r[5] for r in sheet_totals[1:]] == [t["approved_fen"] for t in totals]
    assert [r[6] for r in sheet_totals[1:]] == [t["disbursed_fen"] for t in totals]
    rows = list(book["异常"].iter_rows(values_only=True))[1:]
    assert sorted((r[0], r[2]) for r in rows) == sorted((a["grant_id"], a["rule"])
                                                        for a in found)
    assert len(rows) == 2


def test_a_rebuild_of_the_views_does_not_bless_a_tampered_store(api: Api, database_url: str,
                                                                client: Any) -> None:
    positions = [register(api, name=f"王{n}")["position"] for n in "一二三"]
    api.get("/audit/ledger", min_position=positions[-1])
    tamper(RawStore(database_url), "change", positions[1], positions[2])
    client.app.state.services.runner.rebuild()
    verdict = api.get("/audit/ledger/verify").json()
    assert verdict["ok"] is False and verdict["first_bad_position"] == positions[1]
