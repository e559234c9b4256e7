"""The bulk generator (infra/generator.py) writes the events the commands write, and the views
built from its history answer the API, on both stores."""

from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from domain.child import Child
from infra import generator
from infra.cli import app as cli
from infra.generator import generate, generated_id
from infra.services import Services, build_services
from infra.settings import Settings
from tests.conftest import Api, register

CHILDREN, YEARS, SEED = 40, 2, 11
# Every kind of event the generator writes; the test makes each one through HTTP as well.
EXPECTED = {"Child.Registered", "IdNumberClaim.Claimed", "Child.VisitRecorded",
            "Child.ParentFeedbackGiven", "Child.ExamResultRecorded", "Child.CounsellingRecorded",
            "Child.HelperPaired", "Child.GuardianReplaced", "Helper.Registered", "User.Created",
            "Grant.Approved", "GrantSlot.Opened", "Grant.Disbursed", "Incident.Reported",
            "Incident.ContactAttempted", "Incident.Escalated", "Incident.Resolved"}
META = ("actor_id", "agency", "occurred_at", "recorded_at")


def _ok(response: Any) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()  # type: ignore[no-any-return]


def _through_http(api: Api) -> None:
    """One of every event kind, made by the commands over HTTP."""
    child = register(api)["id"]
    when = (datetime.now().astimezone() - timedelta(days=3)).isoformat()
    helper = _ok(api.post("/helpers", {"name": "刘妈妈", "agency": "womens_federation",
                                       "role": "volunteer", "phone": "13900001111",
                                       "township": "白沙关镇", "village": "白沙关村"}))["id"]
    _ok(api.post(f"/children/{child}/pairings", {"helper_id": helper, "since": "2025-09-01"}))
    _ok(api.post(f"/children/{child}/visits", {
        "occurred_at": when, "kind": "home", "findings": "一切正常。", "needs_followup": False,
        "contacts_confirmed": ["13800001111"], "child_seen": True}))
    _ok(api.post(f"/children/{child}/parent-feedback",
                 {"occurred_at": when, "channel": "wechat", "summary": "反馈近况。"}))
    _ok(api.post(f"/children/{child}/exam-results", {"school_year": 2025, "semester": 1,
                 "total_score": 431.5, "class_rank": 3, "class_size": 40}))
    _ok(api.post(f"/children/{child}/counselling-sessions", {
        "occurred_at": when, "topic": "学习压力", "risk_level": "low", "notes": "谈话记录。"}))
    _ok(api.post(f"/children/{child}/guardian", {
        "name": "张爷爷", "relation": "祖父", "phone": "13800003333", "age": 70,
        "health": "良好", "address": "白沙关村三组"}))
    _ok(api.post("/programmes", {"code": "edu-aid", "name": "生活补助",
                                 "funding_agency": "education", "cap_fen": 62_500,
                                 "period_kind": "term"}))
    grant = _ok(api.post("/grants", {"child_id": child, "programme": "edu-aid",
                                     "amount_fen": 62_500, "period": "2025-T1",
                                     "kind": "transfer"}))["id"]
    _ok(api.post("/users", {"username": "cashier", "password": "payout-pw-123",
                            "agency": "township", "role": "admin"}))
    for username, role, agency, where in (
            ("teacher", "class_teacher", "school", {"school": "白沙关小学", "class_name": "六(2)班"}),
            ("counsellor", "counsellor", "school", {"school": "白沙关小学"}),
            ("supervisor", "township_supervisor", "township", {"township": "白沙关镇"}),
            ("director", "child_director", "community",
             {"township": "白沙关镇", "village": "白沙关村"}),
            ("volunteer", "volunteer", "womens_federation", {"helper_id": helper})):
        _ok(api.post("/users", {"username": username, "password": "long-pw-123", "role": role,
                                "agency": agency, **where}))
    cashier = api.as_user("cashier", "payout-pw-123")
    _ok(cashier.post(f"/grants/{grant}/disbursement", {
        "occurred_at": datetime.now().astimezone().isoformat(), "method": "transfer",
        "reference": "BANK-1"}))
    incident = _ok(api.post("/incidents", {
        "child_id": child, "category": "missing", "severity": "high", "occurred_at": when,
        "location": "村口", "description": "未按时回家。"}))["id"]
    _ok(api.post(f"/incidents/{incident}/contact-attempts", {
        "contact_role": "guardian", "name": "张奶奶", "phone": "13800001111",
        "channel": "phone", "reached": True, "note": "已联系。"}))
    _ok(api.post(f"/incidents/{incident}/escalations", {"to": "school", "note": "已报告。"}))
    _ok(api.post(f"/incidents/{incident}/resolution", {"outcome": "平安", "note": "已回家。"}))


def _kind(event: Any) -> str:
    return type(event).__qualname__


def _atoms(value: Any) -> set[Any]:
    """The shape of a value: a dict's keys, a list's items' shapes, a scalar's type."""
    if value is None:
        return set()
    if isinstance(value, dict):
        return {("dict", tuple(sorted(value)))}
    if isinstance(value, list):
        return {("item", *sorted(map(str, _atoms(item)))) for item in value}
    return {type(value).__name__}


def _shapes(s: Services, first: int, last: int) -> tuple[dict[str, set[frozenset[str]]],
                                                           dict[str, dict[str, set[Any]]],
                                                           list[Any]]:
    """Per event class: its field-name sets and each field's shapes, for positions
    first..last; and the events themselves."""
    names: dict[str, set[frozenset[str]]] = defaultdict(set)
    atoms: dict[str, dict[str, set[Any]]] = defaultdict(lambda: defaultdict(set))
    events = []
    start = first
    while notes := s.app.recorder.select_notifications(start, 500, stop=last):
        for note in notes:
            event = s.app.mapper.to_domain_event(note)
            events.append(event)
            state = vars(event)
            names[_kind(event)].add(frozenset(state))
            for field, value in state.items():
                atoms[_kind(event)][field] |= _atoms(value)
        start = notes[-1].id + 1
    return names, atoms, events


def _check_meta(event: Any) -> None:
    assert event.actor_id and isinstance(event.actor_id, str), _kind(event)
    assert event.agency and isinstance(event.agency, str), _kind(event)
    for field in ("occurred_at", "recorded_at"):
        value = getattr(event, field)
        assert isinstance(value, datetime) and value.tzinfo is not None, (_kind(event), field)


def test_generated_events_have_the_shape_of_the_commands_events(client: TestClient,
                                                                api: Api) -> None:
    s: Services = client.app.state.services  # type: ignore[attr-defined]
    _through_http(api)
    made_by_http = s.app.max_position()
    assert generate(s, CHILDREN, YEARS, SEED) == CHILDREN
    http_names, http_atoms, http_events = _shapes(s, 1, made_by_http)
    gen_names, gen_atoms, gen_events = _shapes(s, made_by_http + 1, s.app.max_position())
    assert EXPECTED <= set(http_names), EXPECTED - set(http_names)
    assert EXPECTED <= set(gen_names), EXPECTED - set(gen_names)
    for kind in set(gen_names):
        assert gen_names[kind] == http_names[kind], kind  # the same field names, every event
        for field, shapes in gen_atoms[kind].items():
            assert shapes <= http_atoms[kind][field], (kind, field, shapes)
    for event in http_events + gen_events:
        _check_meta(event)
    visits = [e for e in gen_events if _kind(e) == "Child.VisitRecorded"]
    assert len(visits) == CHILDREN * YEARS * 12
    dates = [e.occurred_at for e in visits]
    assert max(dates) - min(dates) > timedelta(days=300 * YEARS)  # spread over the years
    assert all(e.occurred_at < e.recorded_at for e in visits)  # in the past
    # The ID numbers and phones the generator made are unique.
    children = [e for e in gen_events if _kind(e) == "Child.Registered"]
    assert len({e.profile["id_number"] for e in children}) == CHILDREN
    phones = [e.guardian["phone"] for e in children]
    phones += [p["phone"] for e in children for p in e.parents]
    assert len(set(phones)) == len(phones)


class Interrupted(Exception):
    pass


def _stop_after_first_batch(_done: int) -> None:
    raise Interrupted


def test_views_built_from_generated_history_answer_the_api(
        client: TestClient, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    s: Services = client.app.state.services  # type: ignore[attr-defined]
    monkeypatch.setattr(generator, "SAVE_BATCH", 10)
    with pytest.raises(Interrupted):
        generate(s, CHILDREN, 1, SEED, _stop_after_first_batch)
    assert generate(s, CHILDREN, 1, SEED) == CHILDREN - 10  # an interrupted run resumes
    assert generate(s, CHILDREN, 1, SEED) == 0  # loaded already: nothing written twice
    assert s.runner.wait_for(s.app.max_position(), 60)
    items = _ok(api.get("/children", limit=500))["items"]
    ids = {str(generated_id(SEED, "child", n)) for n in range(CHILDREN)}
    assert {item["child_id"] for item in items} == ids
    assert len({item["township"] for item in items}) >= 3
    for n in (0, CHILDREN - 1):
        child_id = generated_id(SEED, "child", n)
        child = s.app.load(child_id, Child, "child")
        for q in (child.profile["name"], child.guardian["phone"][-4:],
                  f"{child.profile['school']} {child.profile['class_name']}"):
            found = _ok(api.get("/emergency/lookup", q=q, limit=50))["items"]
            assert str(child_id) in [hit["child_id"] for hit in found], q
            assert found[0]["chain"], q
        archive = _ok(api.get(f"/children/{child_id}"))
        assert archive["profile"]["name"] == child.profile["name"]
        assert len(archive["timeline"]) >= 30


def test_cli_generates_once(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QIANSHOU_DATABASE_URL", database_url)
    monkeypatch.setenv("QIANSHOU_SECRET_KEY", "cli-test-secret-" + "x" * 32)
    runner = CliRunner()
    first = runner.invoke(cli, ["demo", "--children", "12", "--years", "1", "--seed", "5"])
    assert first.exit_code == 0, first.output
    assert "12 children registered" in first.output
    again = runner.invoke(cli, ["demo", "--children", "12", "--years", "1", "--seed", "5"])
    assert again.exit_code == 0 and "0 children registered" in again.output
    bad = runner.invoke(cli, ["demo", "--children", "0", "--years", "1"])
    assert bad.exit_code == 2 and "--children" in bad.output
    services = build_services(Settings())
    try:
        assert services.runner.position == services.app.max_position()  # views built
        with services.db.reading() as cur:
            rows = services.registry.page(cur, {}, None, 0, 100)
        assert {r["child_id"] for r in rows} == {str(generated_id(5, "child", n))
                                                 for n in range(12)}
    finally:
        services.close()
