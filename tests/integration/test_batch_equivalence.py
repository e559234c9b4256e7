"""Views applied a batch at a time equal views applied one event at a time, on both stores.

The runner hands each view up to 1,000 events in one call (apply_batch, set-based writes);
the reference applies the same history through the views' per-event `apply`, one event per
transaction. Every row of every view table must be the same.
"""

from typing import Any

import pytest
from fastapi.testclient import TestClient

from infra.services import Services
from projections.runner import ProjectionRunner
from tests.conftest import Api, register

WHEN = "2026-10-{day:02d}T09:00:00+08:00"


class PerEvent:
    """A view seen without its apply_batch (so the runner calls apply per event) and without
    kept_on_rebuild (so the ledger is rebuilt too)."""

    def __init__(self, view: Any) -> None:
        self.view, self.name = view, view.name

    def __getattr__(self, name: str) -> Any:
        if name in ("apply_batch", "kept_on_rebuild"):
            raise AttributeError(name)
        return getattr(self.view, name)


class Rebuilt(PerEvent):
    """The view as the runner sees it, apply_batch included; only kept_on_rebuild hidden."""

    def __getattr__(self, name: str) -> Any:
        if name == "kept_on_rebuild":
            raise AttributeError(name)
        return getattr(self.view, name)


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def helper(api: Api, name: str, role: str = "volunteer", **place: str) -> str:
    body = {"name": name, "agency": "womens_federation", "role": role,
            "phone": f"1360000{len(name):04d}", **place}
    return ok(api.post("/helpers", body), 201)["id"]  # type: ignore[no-any-return]


def family_events(api: Api, child: str, n: int, volunteer: str) -> None:
    """Visits and feedback over two months, exams, counselling, honours and a violation."""
    for day in (2, 16, 30):
        ok(api.post(f"/children/{child}/visits", {
            "occurred_at": WHEN.format(day=day), "kind": "home", "findings": f"第{day}天走访",
            "contacts_confirmed": ["13800001111"]}))
        ok(api.post(f"/children/{child}/parent-feedback", {
            "occurred_at": WHEN.format(day=day + 1), "channel": "phone", "summary": "近况良好"}))
    ok(api.post(f"/children/{child}/pairings", {"helper_id": volunteer, "since": "2026-09-01"}))
    for semester in (1, 2):
        ok(api.post(f"/children/{child}/exam-results", {
            "school_year": 2025, "semester": semester, "total_score": 400.0 + n,
            "class_rank": 1 + (n + semester) % 30, "class_size": 40}))
    if n % 2:
        ok(api.post(f"/children/{child}/counselling-sessions", {
            "occurred_at": WHEN.format(day=5), "topic": "学习压力", "risk_level": "low",
            "notes": "谈话记录。"}))
        ok(api.post(f"/children/{child}/honours", {"school_year": 2025,
                                                    "title": "merit_student"}))
    else:
        ok(api.post(f"/children/{child}/conduct-violations", {
            "occurred_at": WHEN.format(day=7), "severity": "minor", "description": "迟到"}))


def varied_history(api: Api) -> None:
    """Registrations, visits, guardian and parent changes, pairings, incidents, grants,
    a merge, exams, a conference and its actions, a publication, users: every view's events,
    interleaved as a county's day would interleave them."""
    volunteer = helper(api, "刘妈妈")
    teacher = helper(api, "王老师", role="class_teacher", school="白沙关小学",
                     class_name="六(2)班")
    children = [register(api, name=name)["id"]
                for name in ("张小明", "李小红", "王小芳", "赵小刚", "陈小兰", "杨小军")]
    # Same child registered twice without ID numbers: likely duplicates, then merged.
    twin = [register(api, name=name, id_number=None)["id"] for name in ("周小燕", "周晓燕")]
    for n, child in enumerate(children + twin):
        family_events(api, child, n, volunteer if n % 3 else teacher)
    ok(api.post(f"/children/{children[0]}/guardian", {
        "name": "张爷爷", "relation": "祖父", "phone": "13800003333", "age": 70}))
    ok(api.post(f"/children/{children[1]}/parents", {"parents": [
        {"name": "李大山", "relation": "父亲", "phone": "13700004444", "work_city": "深圳"}]}))
    ok(api.post(f"/children/{children[2]}/enrollment", {
        "school": "白沙关中学", "grade": "初一", "class_name": "初一(1)班"}))
    ok(api.post(f"/children/{children[5]}/pairings/{volunteer}/end", {
        "until": "2026-10-20", "reason": "志愿者调走"}))
    # Paired again: an update between two inserts of one table, whose order matters.
    ok(api.post(f"/children/{children[5]}/pairings", {"helper_id": volunteer,
                                                       "since": "2026-10-21"}))
    ok(api.post(f"/children/{children[4]}/status", {"status": "closed", "reason": "随父母外出"}))
    incidents(api, children)
    grants(api, children)
    ok(api.post(f"/children/{twin[1]}/merge", {"into": twin[0], "reason": "重复建档"}))
    ok(api.post(f"/children/{twin[0]}/visits", {
        "occurred_at": WHEN.format(day=25), "kind": "school", "findings": "合并后走访"}))
    held = ok(api.post("/case-conferences", {
        "held_at": "2026-10-20T10:00:00+08:00", "child_ids": [children[0], twin[0]],
        "attendees": [{"helper_id": volunteer}], "decisions": ["每周家访"],
        "actions": [{"description": "联系父母", "agency": "school", "child_id": children[0],
                     "due": "2026-12-25"},
                    {"description": "复查", "agency": "township", "due": "2026-12-30",
                     "helper_id": volunteer}]}), 201)
    ok(api.post(f"/actions/{held['action_ids'][0]}/completion", {"note": "已联系"}))
    ok(api.post("/assessments/2025/publication"), 201)
    ok(api.post("/users", {"username": "clerk", "password": "desk-secret-7",
                           "agency": "township", "role": "township_supervisor",
                           "township": "白沙关镇"}), 201)
    ok(api.post("/users/clerk/role", {"role": "admin"}))
    ok(api.post("/users/clerk/disable", {}))


def incidents(api: Api, children: list[str]) -> None:
    for child, category in ((children[0], "injury"), (children[1], "abuse")):
        reported = ok(api.post("/incidents", {
            "child_id": child, "category": category, "severity": "high",
            "occurred_at": WHEN.format(day=5), "location": "操场", "description": "擦伤"}), 201)
        ok(api.post(f"/incidents/{reported['id']}/contact-attempts", {
            "contact_role": "guardian", "phone": "13800001111", "reached": True,
            "channel": "phone", "note": "已知情"}))
        ok(api.post(f"/incidents/{reported['id']}/escalations", {"to": "police",
                                                                 "note": "已报警"}))
        if category == "injury":
            ok(api.post(f"/incidents/{reported['id']}/resolution", {"outcome": "resolved"}))


def grants(api: Api, children: list[str]) -> None:
    ok(api.post("/programmes", {"code": "DIBAO", "name": "低保", "funding_agency":
                                "civil_affairs", "cap_fen": 50000, "period_kind": "monthly"}), 201)
    ok(api.post("/users", {"username": "cashier", "password": "pay-out-secret-9",
                           "agency": "township", "role": "township_supervisor",
                           "township": "白沙关镇", "village": "白沙关村"}), 201)
    cashier = api.as_user("cashier", "pay-out-secret-9")  # the approver may not pay
    for n, child in enumerate(children[:3]):
        grant = ok(api.post("/grants", {"child_id": child, "programme": "DIBAO",
                                        "amount_fen": 30000, "period": f"2026-0{n + 6}",
                                        "kind": "cash", "description": "低保"}), 201)
        if n == 0:
            ok(api.post(f"/grants/{grant['id']}/revocation", {"reason": "重复申报"}))
        else:
            ok(cashier.post(f"/grants/{grant['id']}/disbursement", {
                "occurred_at": WHEN.format(day=10), "method": "cash", "reference": "凭证001"}))


def view_tables(s: Services) -> list[str]:
    """Every table a view keeps: the table names its attributes hold."""
    names: set[str] = set()
    for view in s.views.values():
        for value in vars(view).values():
            values = value.values() if isinstance(value, dict) else [value]
            names |= {v for v in values if isinstance(v, str)}
    return sorted(names)


def snapshot(s: Services) -> dict[str, list[tuple[Any, ...]]]:
    with s.db.reading() as cur:
        return {t: sorted((tuple(r.items()) for r in cur.execute(f"SELECT * FROM {t}")
                           .fetchall()), key=repr)
                for t in view_tables(s)}


def rebuild(s: Services, views: list[Any], batch_size: int) -> int:
    runner = ProjectionRunner(s.app, s.db, views, batch_size=batch_size)
    with s.db.transaction() as cur:
        for view in views:
            view.reset(cur)
            s.db.forget_position(cur, view.name)
    return runner.catch_up()


@pytest.fixture
def built(client: TestClient, api: Api) -> Services:
    varied_history(api)
    s: Services = client.app.state.services  # type: ignore[attr-defined]
    s.runner.stop()  # nothing else writes the views while the test rebuilds them
    return s


@pytest.mark.parametrize("batch_size", [1000, 7])
def test_views_from_batches_equal_views_from_single_events(built: Services,
                                                           batch_size: int) -> None:
    s = built
    assert rebuild(s, [PerEvent(v) for v in s.views.values()], batch_size=1) > 120
    one_by_one = snapshot(s)
    rebuild(s, [Rebuilt(v) for v in s.views.values()], batch_size=batch_size)
    batched = snapshot(s)
    assert "archive_files" in "".join(batched)
    # The history reached every view: no table compared empty against empty.
    empty = sorted(t for t, rows in one_by_one.items() if not rows)
    assert empty == [], empty
    for table in one_by_one:
        assert batched[table] == one_by_one[table], table
