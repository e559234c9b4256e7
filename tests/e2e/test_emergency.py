"""Emergencies over HTTP on SQLite and PostgreSQL: contact chain, incidents, lookup."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import Api, register

NOW = datetime.now(UTC)
PLACE = {"township": "白沙关镇", "village": "白沙关村"}
CLASS = {"school": "白沙关小学", "class_name": "六(2)班"}


def helper(api: Api, role: str, phone: str, **place: str) -> str:
    agency = {"class_teacher": "school", "volunteer": "womens_federation",
              "child_director": "community", "grid_worker": "community"}.get(role, "township")
    body = {"name": f"{role}老师", "agency": agency, "role": role, "phone": phone, **place}
    response = api.post("/helpers", body)
    assert response.status_code == 201, response.text
    return response.json()["id"]  # type: ignore[no-any-return]


def chain(api: Api, child_id: str, position: int, **params: Any) -> list[dict[str, Any]]:
    response = api.get(f"/children/{child_id}/contact-chain", min_position=position, **params)
    assert response.status_code == 200, response.text
    assert response.json()["child_id"] == child_id
    return response.json()["chain"]  # type: ignore[no-any-return]


@pytest.fixture
def family(api: Api) -> dict[str, Any]:
    """A child with every kind of contact: family, class teacher, paired helper, place."""
    helper(api, "class_teacher", "13900000001", **CLASS)
    volunteer = helper(api, "volunteer", "13900000002", **PLACE)
    helper(api, "child_director", "13900000003", **PLACE)
    helper(api, "grid_worker", "13900000004", **PLACE)
    helper(api, "township_supervisor", "13900000005", township="白沙关镇")
    child = register(api)
    paired = api.post(f"/children/{child['id']}/pairings",
                      {"helper_id": volunteer, "since": "2025-09-01"})
    assert paired.status_code == 200, paired.text
    return {"id": child["id"], "position": paired.json()["position"]}


DEFAULT = ["guardian", "parent", "class_teacher", "paired_helper", "child_director",
           "grid_worker", "township_supervisor"]


@pytest.mark.parametrize("category,first", [
    (None, []), ("bullying", []), ("missing", ["police_110"]), ("drowning", ["police_110"]),
    ("abuse", ["police_110"]), ("injury", ["ambulance_120"]),
    ("severe_illness", ["ambulance_120"])])
def test_chain_order_per_category(api: Api, family: dict[str, Any], category: str | None,
                                  first: list[str]) -> None:
    params = {"category": category} if category else {}
    entries = chain(api, family["id"], family["position"], **params)
    assert [e["role"] for e in entries] == first + DEFAULT
    guardian = entries[len(first)]
    assert guardian["name"] == "张奶奶" and guardian["relation"] == "祖母"
    assert guardian["phone"] == "13800001111" and guardian["stale"] is False
    assert entries[len(first) + 2]["phone"] == "13900000001"


def test_unknown_category_and_child(api: Api, family: dict[str, Any]) -> None:
    bad = api.get(f"/children/{family['id']}/contact-chain", category="flood",
                  min_position=family["position"])
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "category"
    missing = api.get("/children/00000000-0000-0000-0000-000000000000/contact-chain")
    assert missing.status_code == 404


def test_phones_are_stale_after_180_days(api: Api, family: dict[str, Any],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("infra.web.routers.emergency.utcnow",
                        lambda: NOW + timedelta(days=181))
    entries = chain(api, family["id"], family["position"], category="missing")
    assert entries[0]["stale"] is False  # 110 needs no confirmation
    assert all(e["stale"] for e in entries[1:])
    monkeypatch.setattr("infra.web.routers.emergency.utcnow",
                        lambda: NOW + timedelta(days=179))
    assert not any(e["stale"] for e in chain(api, family["id"], family["position"]))


def test_a_visit_confirms_the_phones_it_names(api: Api, family: dict[str, Any]) -> None:
    before = chain(api, family["id"], family["position"])
    at = datetime.now(UTC)
    visit = api.post(f"/children/{family['id']}/visits", {
        "occurred_at": at.isoformat(), "kind": "phone", "findings": "电话确认",
        "contacts_confirmed": ["13700002222"]})
    assert visit.status_code == 200, visit.text
    after = chain(api, family["id"], visit.json()["position"])
    parent = next(e for e in after if e["role"] == "parent")
    assert datetime.fromisoformat(parent["last_confirmed_at"]) == at
    assert after[0]["last_confirmed_at"] == before[0]["last_confirmed_at"]


def test_a_guardian_change_shows_in_the_chain(api: Api, family: dict[str, Any]) -> None:
    changed = api.post(f"/children/{family['id']}/guardian",
                       {"name": "张爷爷", "relation": "祖父", "phone": "13800003333"})
    assert changed.status_code == 200, changed.text
    guardian = chain(api, family["id"], changed.json()["position"])[0]
    assert (guardian["name"], guardian["phone"]) == ("张爷爷", "13800003333")
    assert guardian["stale"] is False


def report(api: Api, child_id: str, category: str = "abuse") -> dict[str, Any]:
    response = api.post("/incidents", {
        "child_id": child_id, "category": category, "severity": "high",
        "occurred_at": (NOW - timedelta(hours=1)).isoformat(), "location": "白沙关村三组",
        "description": "邻居反映孩子身上有伤"})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def overdue_ids(api: Api, position: int) -> list[str]:
    response = api.get("/incidents", status="open", overdue="true", min_position=position)
    assert response.status_code == 200, response.text
    return [i["id"] for i in response.json()["items"]]


def test_report_answers_with_the_chain(api: Api, family: dict[str, Any]) -> None:
    incident = report(api, family["id"], "injury")
    assert incident["id"] and incident["position"] > family["position"]
    assert incident["category"] == "injury"
    assert [e["role"] for e in incident["chain"]] == ["ambulance_120", *DEFAULT]


def test_abuse_without_police_report_is_overdue_after_24h(
        api: Api, family: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    late, timely = report(api, family["id"]), report(api, family["id"])
    other = report(api, family["id"], "injury")
    assert overdue_ids(api, other["position"]) == []
    escalated = api.post(f"/incidents/{timely['id']}/escalations",
                         {"to": "police", "note": "已向派出所报案"})
    assert escalated.status_code == 200, escalated.text
    monkeypatch.setattr("infra.web.routers.emergency.utcnow", lambda: NOW + timedelta(hours=25))
    assert overdue_ids(api, escalated.json()["position"]) == [late["id"]]
    resolved = api.post(f"/incidents/{late['id']}/resolution", {"outcome": "移交公安"})
    assert resolved.status_code == 200 and resolved.json()["status"] == "resolved"
    assert overdue_ids(api, resolved.json()["position"]) == []
    again = api.post(f"/incidents/{late['id']}/resolution", {"outcome": "再次"})
    assert again.status_code == 409


def test_a_reached_contact_attempt_confirms_the_phone(api: Api, family: dict[str, Any]) -> None:
    incident = report(api, family["id"], "missing")
    before = datetime.now(UTC)
    attempt = api.post(f"/incidents/{incident['id']}/contact-attempts", {
        "contact_role": "parent", "name": "张大山", "phone": "13700002222",
        "channel": "phone", "reached": True, "note": "父亲已知情"})
    assert attempt.status_code == 200, attempt.text
    missed = api.post(f"/incidents/{incident['id']}/contact-attempts", {
        "contact_role": "guardian", "phone": "13800001111", "reached": False})
    assert missed.status_code == 200, missed.text
    entries = chain(api, family["id"], missed.json()["position"])
    parent = next(e for e in entries if e["role"] == "parent")
    assert datetime.fromisoformat(parent["last_confirmed_at"]) >= before
    # Nobody answered the guardian's phone: it keeps its registration time.
    assert datetime.fromisoformat(entries[0]["last_confirmed_at"]) < before


def test_incident_for_unknown_child_is_404(api: Api) -> None:
    response = api.post("/incidents", {
        "child_id": "00000000-0000-0000-0000-000000000000", "category": "missing",
        "severity": "high", "occurred_at": NOW.isoformat(), "location": "村口"})
    assert response.status_code == 404


# --- lookup ------------------------------------------------------------------------------

@pytest.fixture
def namesakes(api: Api) -> dict[str, str]:
    """Children whose names share characters and sounds, to test the ranking."""
    people = [
        ("张小明", "13800001111", "522601201403051228", "白沙关小学", "六(2)班", "白沙关村"),
        ("张晓明", "13800002222", "522601201405060017", "白沙关小学", "五(1)班", "新寨村"),
        ("章小敏", "13800003333", "52260120130708002X", "凯里市第一小学", "六(2)班", "新寨村"),
        ("张小明亮", "13800004444", "522601201409090033", "白沙关小学", "四(3)班", "高坡村"),
        ("王张小明", "13800005555", "522601201410100044", "白沙关小学", "三(1)班", "高坡村"),
    ]
    ids, position = {}, 0
    for name, phone, id_number, school, class_name, village in people:
        created = register(api, name=name, id_number=id_number, school=school,
                           class_name=class_name, village=village,
                           guardian={"name": "奶奶", "relation": "祖母", "phone": phone},
                           parents=[])
        ids[name], position = created["id"], created["position"]
    ids["position"] = str(position)
    return ids


def names(api: Api, kids: dict[str, str], q: str) -> list[str]:
    response = api.get("/emergency/lookup", q=q, min_position=kids["position"])
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    for item in items:
        assert {"child_id", "name", "school", "class_name", "village", "chain"} <= set(item)
        assert item["chain"][0]["role"] == "guardian"
    return [i["name"] for i in items]


def test_lookup_by_characters_ranks_exact_then_prefix_then_contains(
        api: Api, namesakes: dict[str, str]) -> None:
    assert names(api, namesakes, "张小明") == ["张小明", "张小明亮", "王张小明"]
    assert names(api, namesakes, "小明")[-1] != "张晓明"
    assert "张晓明" not in names(api, namesakes, "小明")
    assert names(api, namesakes, "章小敏") == ["章小敏"]


def test_lookup_by_pinyin_and_initials(api: Api, namesakes: dict[str, str]) -> None:
    assert sorted(names(api, namesakes, "zhangxiaoming")[:2]) == ["张小明", "张晓明"]
    assert names(api, namesakes, "zhangxiaomin")[0] == "章小敏"
    assert set(names(api, namesakes, "zxm")[:3]) == {"张小明", "张晓明", "章小敏"}
    assert set(names(api, namesakes, "zhang xiao")) >= {"张小明", "张晓明", "章小敏"}
    assert "王张小明" in names(api, namesakes, "ZhangXiaoMing")


def test_lookup_by_phone_and_id_digits(api: Api, namesakes: dict[str, str]) -> None:
    assert names(api, namesakes, "13800002222") == ["张晓明"]
    assert names(api, namesakes, "3333") == ["章小敏"]
    assert names(api, namesakes, "002x") == ["章小敏"]
    assert names(api, namesakes, "051228") == ["张小明"]


def test_lookup_by_school_and_class_or_village(api: Api, namesakes: dict[str, str]) -> None:
    assert names(api, namesakes, "白沙关小学 六(2)班") == ["张小明"]
    assert names(api, namesakes, "白沙关小学 六（2）班") == ["张小明"]
    assert len(names(api, namesakes, "白沙关小学")) == 4
    assert sorted(names(api, namesakes, "新寨村")) == ["张晓明", "章小敏"]


@pytest.mark.parametrize("q", ["", " ", "张", "a", " z "])
def test_lookup_refuses_too_short_queries(api: Api, q: str) -> None:
    response = api.get("/emergency/lookup", q=q)
    assert response.status_code == 422
    assert "at least 2 characters" in response.json()["errors"][0]["reason"]


def test_lookup_refuses_long_queries_and_never_fails(api: Api,
                                                     namesakes: dict[str, str]) -> None:
    assert api.get("/emergency/lookup", q="张a" * 5_000).status_code == 422
    assert api.get("/emergency/lookup").status_code == 422
    for odd in ["%%", "__", "'; drop table lookup_keys; --", "\\x", "0000", "\U0010fffd张"]:
        assert api.get("/emergency/lookup", q=odd).status_code == 200
    # A non-character (U+10FFFF) is refused at the edge, naming q (issue 19).
    assert api.get("/emergency/lookup", q="\U0010ffff张").status_code == 422


def test_a_repeated_report_with_the_same_key_records_one_incident(
        api: Api, family: dict[str, Any]) -> None:
    body = {"child_id": family["id"], "category": "drowning", "severity": "critical",
            "occurred_at": NOW.isoformat(), "location": "河边"}
    first = api.post("/incidents", body, **{"Idempotency-Key": "drowning-1"})
    again = api.post("/incidents", body, **{"Idempotency-Key": "drowning-1"})
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert again.json()["chain"][0]["role"] == "police_110"
    listed = api.get("/incidents", status="open", min_position=again.json()["position"])
    assert [i["id"] for i in listed.json()["items"]] == [first.json()["id"]]


def test_the_auditor_may_not_look_up_or_report(api: Api, family: dict[str, Any]) -> None:
    created = api.post("/users", {"username": "auditor1", "password": "auditor-password",
                                  "agency": "township", "role": "auditor"})
    assert created.status_code == 201, created.text
    auditor = api.as_user("auditor1", "auditor-password")
    assert auditor.get("/emergency/lookup", q="张小明").status_code == 403
    assert auditor.get(f"/children/{family['id']}/contact-chain").status_code == 403
    assert auditor.get("/incidents").status_code == 403
    assert auditor.post("/incidents", {
        "child_id": family["id"], "category": "other", "severity": "low",
        "occurred_at": NOW.isoformat(), "location": "学校"}).status_code == 403


def test_incidents_appear_on_the_childs_timeline_and_as_of(api: Api) -> None:
    child = register(api)
    before = datetime.now(UTC).isoformat()
    reported = api.post("/incidents", {
        "child_id": child["id"], "category": "missing", "severity": "high",
        "occurred_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
        "location": "村口河边", "description": "放学后未回家"})
    assert reported.status_code == 201, reported.text
    incident_id = reported.json()["id"]
    escalated = api.post(f"/incidents/{incident_id}/escalations", {"to": "police", "note": "报警"})
    file = api.get(f"/children/{child['id']}",
                   min_position=escalated.json()["position"]).json()
    types = [e["type"] for e in file["timeline"]]
    assert types[:2] == ["IncidentEscalated", "IncidentReported"] and types[-1] == "Registered"
    assert file["timeline"][1]["data"]["location"] == "村口河边"
    assert file["timeline"][0]["incident_id"] == incident_id
    then = api.get(f"/children/{child['id']}", as_of=before).json()
    assert [e["type"] for e in then["timeline"]] == ["Registered"]
    now = api.get(f"/children/{child['id']}", as_of=datetime.now(UTC).isoformat()).json()
    assert [e["type"] for e in now["timeline"]] == types
