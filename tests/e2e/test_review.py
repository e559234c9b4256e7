"""The cross-agency case review, conferences with actions and the worklist, over HTTP on
SQLite and PostgreSQL."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.risk import SHANGHAI
from tests.conftest import Api, register

PASSWORD = "a-long-password"
PLACE = {"township": "白沙关镇", "village": "白沙关村"}
CLASS = {"school": "白沙关小学", "class_name": "六(2)班"}
UNKNOWN = "00000000-0000-4000-8000-000000000000"


def now() -> datetime:
    return datetime.now(UTC)


def ago(**delta: float) -> str:
    return (now() - timedelta(**delta)).isoformat()


def today(days: int = 0) -> str:
    return (datetime.now(SHANGHAI).date() + timedelta(days=days)).isoformat()


def ok(api: Api, path: str, body: Any, status: int = 200, **headers: str) -> dict[str, Any]:
    response = api.post(path, body, **headers)
    assert response.status_code == status, response.text
    return response.json()  # type: ignore[no-any-return]


def helper(api: Api, role: str, agency: str, phone: str, **place: str) -> str:
    body = {"name": f"{role}老师", "agency": agency, "role": role, "phone": phone, **place}
    return ok(api, "/helpers", body, 201)["id"]  # type: ignore[no-any-return]


def user(api: Api, username: str, agency: str, role: str, **jurisdiction: str) -> Api:
    ok(api, "/users", {"username": username, "password": PASSWORD, "agency": agency,
                       "role": role, **jurisdiction}, 201)
    return api.as_user(username, PASSWORD)


def review(api: Api, child_id: str, position: int, **params: Any) -> dict[str, Any]:
    response = api.get(f"/reviews/children/{child_id}", min_position=position, **params)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def flags(found: dict[str, Any]) -> list[str]:
    return [f["flag"] for f in found["risk_flags"]]


@pytest.fixture
def case(api: Api) -> dict[str, Any]:
    """A child followed by four agencies: school, women's federation, community, township."""
    volunteer_id = helper(api, "volunteer", "womens_federation", "13900000002", **PLACE)
    child = register(api)
    ok(api, f"/children/{child['id']}/pairings", {"helper_id": volunteer_id,
                                                  "since": "2025-09-01"})
    return {
        "id": child["id"], "volunteer_id": volunteer_id,
        "teacher": user(api, "li.laoshi", "school", "class_teacher", **CLASS),
        "volunteer": user(api, "liu.mama", "womens_federation", "volunteer",
                          helper_id=volunteer_id),
        "counsellor": user(api, "chen.xinli", "school", "counsellor", school=CLASS["school"]),
        "grid": user(api, "wang.wangge", "community", "grid_worker", **PLACE),
    }


def conference(api: Api, child_id: str, **over: Any) -> dict[str, Any]:
    body = {"held_at": ago(days=20), "child_ids": [child_id], "attendees": [],
            "decisions": ["每周家访一次"], "actions": []}
    return ok(api, "/case-conferences", {**body, **over}, 201)


def test_review_shows_every_agencys_facts_on_one_timeline(api: Api,
                                                          case: dict[str, Any]) -> None:
    cid = case["id"]
    ok(case["volunteer"], f"/children/{cid}/visits",
       {"occurred_at": ago(days=2), "kind": "home", "findings": "学习认真"})
    ok(case["teacher"], f"/children/{cid}/exam-results",
       {"school_year": 2025, "semester": 1, "total_score": 520, "class_rank": 8,
        "class_size": 40})
    ok(case["counsellor"], f"/children/{cid}/counselling-sessions",
       {"occurred_at": ago(days=1), "topic": "想家", "risk_level": "low", "notes": "秘密内容"})
    ok(case["grid"], f"/children/{cid}/parent-feedback",
       {"occurred_at": ago(hours=5), "channel": "wechat", "summary": "近况良好"})
    ok(api, "/incidents", {"child_id": cid, "category": "injury", "severity": "low",
                           "occurred_at": ago(hours=3), "location": "操场"}, 201)
    held = conference(api, cid, attendees=[{"helper_id": case["volunteer_id"]}])
    found = review(api, cid, held["position"])
    assert found["child_id"] == cid and found["as_of"] is None
    timeline = found["timeline"]
    assert {"Registered", "HelperPaired", "VisitRecorded", "ExamResultRecorded",
            "CounsellingRecorded", "ParentFeedbackGiven", "IncidentReported",
            "CaseConferenceHeld"} <= {e["type"] for e in timeline}
    assert {"school", "womens_federation", "community", "township"} <= \
        {e["agency"] for e in timeline}
    assert all({"type", "agency", "actor", "occurred_at", "recorded_at"} <= set(e)
               for e in timeline)
    assert [e["position"] for e in timeline] == sorted((e["position"] for e in timeline),
                                                       reverse=True)
    held_line = next(e for e in timeline if e["type"] == "CaseConferenceHeld")
    assert held_line["data"]["attendees"] == [{"helper_id": case["volunteer_id"],
                                               "agency": "womens_federation",
                                               "role": "volunteer"}]
    assert found["risk_flags"] == [] and found["open_actions"] == []
    assert "秘密内容" in str(review(case["counsellor"], cid, held["position"]))


def test_a_volunteer_sees_no_counselling_notes_nor_the_id_number(
        api: Api, case: dict[str, Any]) -> None:
    cid = case["id"]
    done = ok(case["counsellor"], f"/children/{cid}/counselling-sessions",
              {"occurred_at": ago(days=1), "topic": "想家", "risk_level": "high",
               "notes": "秘密内容"})
    seen = review(case["volunteer"], cid, done["position"])
    session = next(e for e in seen["timeline"] if e["type"] == "CounsellingRecorded")
    assert session["data"]["notes"] == "restricted"
    assert flags(seen) == ["high_risk_counselling"]  # the level is not a secret; notes are
    assert "秘密内容" not in str(seen) and "522601201403051228" not in str(seen)
    assert seen["profile"]["id_number"] == "5226**********1228"


def test_as_of_review_excludes_events_recorded_later(api: Api, case: dict[str, Any]) -> None:
    cid = case["id"]
    first = ok(case["volunteer"], f"/children/{cid}/visits",
               {"occurred_at": ago(days=40), "kind": "home", "findings": "奶奶生病"})
    then = review(api, cid, first["position"])["timeline"][0]["recorded_at"]
    later = ok(case["volunteer"], f"/children/{cid}/visits",
               {"occurred_at": ago(hours=1), "kind": "phone", "findings": "好转"})
    ok(api, "/incidents", {"child_id": cid, "category": "injury", "severity": "low",
                           "occurred_at": ago(days=41), "location": "河边"}, 201)
    held = conference(api, cid, held_at=ago(days=41), actions=[
        {"description": "联系父母", "agency": "township", "due": today(-30)}])
    current = review(api, cid, held["position"])
    assert flags(current) == ["overdue_action"]
    known = review(api, cid, held["position"], as_of=then)
    assert known["as_of"] == datetime.fromisoformat(then).isoformat()
    assert [e["type"] for e in known["timeline"]] == ["VisitRecorded", "HelperPaired",
                                                      "Registered"]
    assert known["open_actions"] == []
    # As known then, the last visit was 40 days before: the flag stood at that moment.
    assert flags(known) == ["no_visit_30_days"]
    assert known["risk_flags"][0]["since"] < then
    assert later["position"] > first["position"]


def test_as_of_review_folds_conferences_and_completions_as_known_then(
        api: Api, case: dict[str, Any]) -> None:
    cid = case["id"]
    held = conference(api, cid, actions=[
        {"description": "联系父母", "agency": "womens_federation",
         "helper_id": case["volunteer_id"], "due": today(-3)}])
    [action_id] = held["action_ids"]
    before = review(api, cid, held["position"])["timeline"][0]["recorded_at"]
    done = ok(case["volunteer"], f"/actions/{action_id}/completion", {"note": "已打电话"})
    open_then = review(api, cid, done["position"], as_of=before)
    assert open_then["timeline"][0]["type"] == "CaseConferenceHeld"
    assert [a["action_id"] for a in open_then["open_actions"]] == [action_id]
    assert open_then["open_actions"][0]["overdue"] is True
    assert flags(open_then) == ["overdue_action"]
    after = review(api, cid, done["position"], as_of=now().isoformat())
    assert after["timeline"][0]["type"] == "ActionCompleted"
    assert after["open_actions"] == [] and after["risk_flags"] == []


def test_as_of_before_registration_is_404_and_in_the_future_is_422(
        api: Api, case: dict[str, Any]) -> None:
    path = f"/reviews/children/{case['id']}"
    assert api.get(path, as_of="2000-01-01T00:00:00+00:00").status_code == 404
    future = api.get(path, as_of=(now() + timedelta(days=1)).isoformat())
    assert future.status_code == 422 and future.json()["errors"][0]["field"] == "as_of"
    naive = api.get(path, as_of="2026-01-01T00:00:00")
    assert naive.status_code == 422 and "as_of" in naive.json()["errors"][0]["field"]
    assert api.get(f"/reviews/children/{UNKNOWN}").status_code == 404


def test_overdue_action_is_flagged_listed_and_cleared_by_completion(
        api: Api, case: dict[str, Any]) -> None:
    cid, volunteer_id = case["id"], case["volunteer_id"]
    held = conference(api, cid, attendees=[{"helper_id": volunteer_id}], actions=[
        {"description": "联系在外父母", "agency": "womens_federation",
         "helper_id": volunteer_id, "due": today(-5)},
        {"description": "安排心理辅导", "agency": "school", "helper_id": volunteer_id,
         "due": today()}])
    late, due_today = held["action_ids"]
    assert held["id"] and held["position"] > 0 and late != due_today
    found = review(api, cid, held["position"])
    overdue = [f for f in found["risk_flags"] if f["flag"] == "overdue_action"]
    assert [f["action_id"] for f in overdue] == [late]
    assert [(a["action_id"], a["overdue"]) for a in found["open_actions"]] == \
        [(late, True), (due_today, False)]
    work = case["volunteer"].get(f"/helpers/{volunteer_id}/worklist",
                                 min_position=held["position"]).json()
    assert [(a["action_id"], a["overdue"]) for a in work["actions"]] == \
        [(late, True), (due_today, False)]
    done = ok(case["volunteer"], f"/actions/{late}/completion", {"note": "已联系"})
    assert done["status"] == "completed"
    after = review(api, cid, done["position"])
    assert "overdue_action" not in flags(after)
    assert [a["action_id"] for a in after["open_actions"]] == [due_today]
    assert any(e["type"] == "ActionCompleted" and e["action_id"] == late
               for e in after["timeline"])
    work = api.get(f"/helpers/{volunteer_id}/worklist", min_position=done["position"]).json()
    assert [a["action_id"] for a in work["actions"]] == [due_today]
    again = case["volunteer"].post(f"/actions/{late}/completion", {"note": "再次"})
    assert again.status_code == 409
    assert api.post(f"/actions/{UNKNOWN}/completion", {"note": ""}).status_code == 404


def test_worklist_lists_children_not_visited_or_given_feedback_this_month(
        api: Api, case: dict[str, Any]) -> None:
    cid, volunteer_id = case["id"], case["volunteer_id"]
    month_start = datetime.now(SHANGHAI).replace(day=1, hour=0, minute=0, second=0,
                                                 microsecond=0)
    last_month = ok(case["volunteer"], f"/children/{cid}/visits", {
        "occurred_at": (month_start - timedelta(hours=1)).isoformat(), "kind": "home",
        "findings": "上月家访"})
    work = api.get(f"/helpers/{volunteer_id}/worklist", min_position=last_month["position"])
    assert work.status_code == 200, work.text
    [row] = work.json()["children"]
    assert row["child_id"] == cid and row["visit_due"] and row["feedback_due"]
    assert work.json()["month"] == month_start.strftime("%Y-%m")
    visited = ok(case["volunteer"], f"/children/{cid}/visits",
                 {"occurred_at": ago(minutes=1), "kind": "phone", "findings": "本月电话"})
    [row] = api.get(f"/helpers/{volunteer_id}/worklist",
                    min_position=visited["position"]).json()["children"]
    assert row["visit_due"] is False and row["feedback_due"] is True
    told = ok(case["volunteer"], f"/children/{cid}/parent-feedback",
              {"occurred_at": ago(minutes=1), "channel": "phone", "summary": "已告知"})
    work = api.get(f"/helpers/{volunteer_id}/worklist", min_position=told["position"]).json()
    assert work["children"] == [] and work["actions"] == []
    assert api.get(f"/helpers/{UNKNOWN}/worklist").status_code == 404


def near_misses(api: Api, teacher: Api, cid: str, fall: int, visit_days: int,
                incident_days: list[int], level: str) -> int:
    ok(api, f"/children/{cid}/visits", {"occurred_at": ago(days=visit_days), "kind": "home",
                                        "findings": "家访"})
    for semester, rank in ((1, 5), (2, 5 + fall)):
        ok(teacher, f"/children/{cid}/exam-results", {
            "school_year": 2025, "semester": semester, "total_score": 500,
            "class_rank": rank, "class_size": 45})
    for days in incident_days:
        ok(api, "/incidents", {"child_id": cid, "category": "bullying", "severity": "low",
                               "occurred_at": ago(days=days), "location": "学校"}, 201)
    return ok(api, f"/children/{cid}/counselling-sessions", {
        "occurred_at": ago(days=3), "topic": "同学关系", "risk_level": level})["position"]


def test_risk_flags_at_their_boundaries(api: Api, case: dict[str, Any]) -> None:
    flagged = near_misses(api, case["teacher"], case["id"], fall=10, visit_days=31,
                          incident_days=[10, 89], level="high")
    found = review(api, case["id"], flagged)
    assert sorted(flags(found)) == ["high_risk_counselling", "no_visit_30_days",
                                    "rank_fall_10", "repeated_incidents"]
    assert all({"flag", "since", "detail"} <= set(f) for f in found["risk_flags"])
    other = register(api, name="李小红", id_number="522601201405061234")["id"]
    quiet = near_misses(api, case["teacher"], other, fall=9, visit_days=29,
                        incident_days=[10, 91], level="medium")
    assert review(api, other, quiet)["risk_flags"] == []


@pytest.mark.parametrize("over,field", [
    ({"held_at": "2026-05-01T09:00:00"}, "held_at"),
    ({"held_at": "2099-05-01T09:00:00+08:00"}, "held_at"),
    ({"held_at": "0001-01-01T00:00:00+14:00"}, "held_at"),
    ({"child_ids": []}, "child_ids"),
    ({"child_ids": [UNKNOWN]}, "child_ids.0"),
    ({"attendees": [{"helper_id": UNKNOWN}]}, "attendees.0.helper_id"),
    ({"decisions": ["x" * 2001]}, "decisions.0"),
    ({"actions": [{"description": "a", "agency": "school", "due": "next week"}]},
     "actions.0.due"),
    ({"actions": [{"description": "a", "agency": "police", "due": "2026-01-01"}]},
     "actions.0.agency"),
    ({"actions": [{"description": "a" * 501, "agency": "school", "due": "2026-01-01"}]},
     "actions.0.description"),
    ({"actions": [{"description": "a", "agency": "school", "due": "2000-01-01"}]},
     "actions.0.due"),
    ({"actions": [{"description": "a", "agency": "school", "due": "2026-01-01",
                   "helper_id": UNKNOWN}]}, "actions.0.helper_id"),
    ({"actions": [{"description": "a", "agency": "school", "due": "2026-01-01",
                   "child_id": UNKNOWN}]}, "actions.0.child_id"),
    ({"mood": "good"}, "mood"),
])
def test_bad_conference_is_a_422_naming_the_field(api: Api, case: dict[str, Any],
                                                   over: dict[str, Any], field: str) -> None:
    body = {"held_at": "2025-12-20T09:00:00+08:00", "child_ids": [case["id"]], **over}
    response = api.post("/case-conferences", body)
    assert response.status_code == 422, response.text
    assert field in [e["field"] for e in response.json()["errors"]]


def test_repeated_children_and_long_notes_are_refused(api: Api, case: dict[str, Any]) -> None:
    twice = api.post("/case-conferences", {"held_at": ago(days=1),
                                           "child_ids": [case["id"], case["id"]]})
    assert twice.status_code == 422 and twice.json()["errors"][0]["field"] == "child_ids"
    held = conference(api, case["id"], actions=[{"description": "家访", "agency": "community",
                                                 "due": today()}])
    long_note = api.post(f"/actions/{held['action_ids'][0]}/completion", {"note": "x" * 4001})
    assert long_note.status_code == 422 and long_note.json()["errors"][0]["field"] == "note"


def test_conference_replay_with_the_same_key_records_once(api: Api,
                                                          case: dict[str, Any]) -> None:
    body = {"held_at": ago(days=2), "child_ids": [case["id"]],
            "actions": [{"description": "家访", "agency": "community", "due": today(7)}]}
    first = ok(api, "/case-conferences", body, 201, **{"Idempotency-Key": "conf-1"})
    second = ok(api, "/case-conferences", body, 201, **{"Idempotency-Key": "conf-1"})
    assert first == second
    found = review(api, case["id"], second["position"])
    assert [e["type"] for e in found["timeline"]].count("CaseConferenceHeld") == 1
    assert len(found["open_actions"]) == 1


def test_who_may_hold_complete_and_read(api: Api, case: dict[str, Any]) -> None:
    refused = case["volunteer"].post("/case-conferences", {"held_at": ago(days=1),
                                                           "child_ids": [case["id"]]})
    assert refused.status_code == 403
    held = conference(case["teacher"], case["id"],
                      actions=[{"description": "家访", "agency": "school", "due": today()}])
    auditor = user(api, "zhao.shenji", "township", "auditor")
    assert auditor.get(f"/reviews/children/{case['id']}").status_code in (403, 404)
    assert auditor.post(f"/actions/{held['action_ids'][0]}/completion",
                        {"note": ""}).status_code == 403


def test_a_merged_file_brings_its_conferences_actions_and_visits_to_the_survivor(
        api: Api, case: dict[str, Any]) -> None:
    survivor, volunteer_id = case["id"], case["volunteer_id"]
    duplicate = register(api, id_number=None, name="张小明")["id"]
    ok(api, f"/children/{duplicate}/pairings", {"helper_id": volunteer_id,
                                                "since": "2025-09-01"})
    held = conference(api, duplicate, actions=[
        {"description": "联系父母", "agency": "township", "helper_id": volunteer_id,
         "due": today(-2)}])
    visited = ok(api, f"/children/{duplicate}/visits",
                 {"occurred_at": ago(minutes=5), "kind": "home", "findings": "家访"})
    before_merge = review(api, survivor, visited["position"])
    assert "overdue_action" not in flags(before_merge)
    merged = ok(api, f"/children/{duplicate}/merge", {"into": survivor, "reason": "重复建档"})
    after = review(api, survivor, merged["position"])
    assert [a["action_id"] for a in after["open_actions"]] == held["action_ids"]
    assert "overdue_action" in flags(after)
    assert "CaseConferenceHeld" in [e["type"] for e in after["timeline"]]
    assert any(e.get("from_child_id") == duplicate for e in after["timeline"])
    as_of = review(api, survivor, merged["position"], as_of=now().isoformat())
    assert [a["action_id"] for a in as_of["open_actions"]] == held["action_ids"]
    assert {e["type"] for e in as_of["timeline"]} >= {"CaseConferenceHeld", "VisitRecorded"}
    then = review(api, survivor, merged["position"],
                  as_of=before_merge["timeline"][0]["recorded_at"])
    assert then["open_actions"] == []
    work = api.get(f"/helpers/{volunteer_id}/worklist", min_position=merged["position"]).json()
    assert [c["child_id"] for c in work["children"]] == [survivor]
    assert work["children"][0]["visit_due"] is False  # the duplicate's visit counts
    refused = api.post("/case-conferences", {"held_at": ago(days=1), "child_ids": [duplicate]})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "child_ids.0"
