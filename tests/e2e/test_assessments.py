"""Assessments (docs/DOMAIN.md §7) over HTTP on both stores: a worked example end to end."""

import sqlite3
from datetime import UTC, date, datetime
from io import BytesIO
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from openpyxl import load_workbook

from domain.child import Child
from domain.helper import Helper
from infra.viewdb import ViewCursor
from projections.assessment import AssessmentView
from tests.conftest import Api, register

YEAR = 2025
SCHOOL, CLASS = "白沙关小学", "六(2)班"


def helper(api: Api, role: str, name: str, **over: str) -> str:
    body = {"name": name, "agency": "school" if role == "class_teacher" else "youth_league",
            "role": role, "phone": "13912345678", **over}
    response = api.post("/helpers", body)
    assert response.status_code == 201, response.text
    return response.json()["id"]  # type: ignore[no-any-return]


def post(api: Api, path: str, body: dict[str, Any]) -> int:
    response = api.post(path, body)
    assert response.status_code in (200, 201), (path, response.text)
    return response.json()["position"]  # type: ignore[no-any-return]


def exam(api: Api, child_id: str, semester: int, rank: int, year: int = YEAR) -> int:
    return post(api, f"/children/{child_id}/exam-results",
                {"school_year": year, "semester": semester, "total_score": 500.0,
                 "class_rank": rank, "class_size": 45})


@pytest.fixture
def example(api: Api) -> dict[str, Any]:
    """A worked example of docs/DOMAIN.md §7: A 12 → 4, no violation, Merit Student; B 3 → 2,
    one serious violation."""
    a = register(api, name="李小红")["id"]
    b = register(api, name="王小刚")["id"]
    volunteer = helper(api, "volunteer", "刘妈妈")
    teacher = helper(api, "class_teacher", "陈老师", school=SCHOOL, class_name=CLASS)
    for child in (a, b):
        post(api, f"/children/{child}/pairings", {"helper_id": volunteer, "since": "2025-09-01"})
    exam(api, a, 1, 12)
    exam(api, b, 1, 3)
    post(api, f"/children/{b}/conduct-violations",
         {"occurred_at": "2025-11-10T10:00:00+08:00", "severity": "serious",
          "description": "打架"})
    # A minor violation, and a serious one of the previous school year (August), cost nothing.
    post(api, f"/children/{a}/conduct-violations",
         {"occurred_at": "2025-12-01T10:00:00+08:00", "severity": "minor", "description": "迟到"})
    post(api, f"/children/{a}/conduct-violations",
         {"occurred_at": "2025-08-20T10:00:00+08:00", "severity": "serious",
          "description": "暑假打架"})
    post(api, f"/children/{a}/honours", {"school_year": YEAR, "title": "merit_student"})
    exam(api, a, 2, 4)
    last = exam(api, b, 2, 2)
    return {"a": a, "b": b, "volunteer": volunteer, "teacher": teacher, "position": last}


def year(api: Api, position: int) -> dict[str, Any]:
    response = api.get(f"/assessments/{YEAR}", min_position=position)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def assessee(found: dict[str, Any], helper_id: str) -> dict[str, Any]:
    return next(x for x in found["assessees"] if x["helper_id"] == helper_id)


def points(found: dict[str, Any], child_id: str) -> int:
    return next(c["points"] for c in found["children"] if c["child_id"] == child_id)


def awards(found: dict[str, Any]) -> dict[str, int]:
    return {s["child_id"]: s["total_fen"] for s in found["student_awards"]}


def test_the_worked_example_of_domain_md(api: Api, example: dict[str, Any]) -> None:
    found = year(api, example["position"])
    a, b = example["a"], example["b"]
    assert found["school_year"] == YEAR and found["published"] is False
    assert found["scheme_version"] == "seed-2025" and found["amendments"] == []
    assert points(found, a) == 110 and points(found, b) == 20
    volunteer = assessee(found, example["volunteer"])
    assert (volunteer["kind"], volunteer["name"]) == ("volunteer", "刘妈妈")
    assert (volunteer["points"], volunteer["award_fen"]) == (130, 13000)
    teacher = assessee(found, example["teacher"])
    assert (teacher["kind"], teacher["points"], teacher["award_fen"]) == ("class_teacher", 65,
                                                                         6500)
    assert awards(found) == {a: 4500, b: 3000}
    kinds = next(s["awards"] for s in found["student_awards"] if s["child_id"] == a)
    assert [(k["kind"], k["amount_fen"]) for k in kinds] == [("rank_top5", 3000),
                                                            ("progress", 1500)]
    lines = {ln["rule"]: ln for c in found["children"] if c["child_id"] == b
             for ln in c["lines"]}
    assert lines["rank_rise"]["points"] == 10 and len(lines["rank_rise"]["event_ids"]) == 2
    assert lines["top5_kept"]["points"] == 10
    serious = lines["no_serious_violation"]
    assert serious["points"] == 0 and serious["event_ids"][0].startswith(b)


def test_the_audit_trail_names_every_child_rule_and_event(api: Api,
                                                          example: dict[str, Any]) -> None:
    response = api.get(f"/assessments/{YEAR}/helpers/{example['volunteer']}",
                       min_position=example["position"])
    assert response.status_code == 200, response.text
    trail = response.json()
    assert trail["points"] == 130 and trail["kind"] == "volunteer"
    assert len(trail["lines"]) == 8  # two children, four rules each
    assert sum(ln["points"] for ln in trail["lines"]) == 130
    assert all(ln["pairing_event_id"] for ln in trail["lines"])
    assert {ln["child_id"] for ln in trail["lines"]} == {example["a"], example["b"]}
    teacher = api.get(f"/assessments/{YEAR}/helpers/{example['teacher']}").json()
    assert teacher["points"] == 65 and teacher["count"] == 2
    assert api.get(f"/assessments/{YEAR}/helpers/{example['a']}").status_code == 404


def test_a_child_without_a_semester_2_result_earns_nothing_and_says_why(api: Api) -> None:
    child = register(api)["id"]
    last = exam(api, child, 1, 7)
    found = year(api, last)
    entry = next(c for c in found["children"] if c["child_id"] == child)
    assert entry["points"] == 0 and "semester-2" in entry["lines"][0]["reason"]


def test_publication_freezes_and_a_correction_is_an_amendment(api: Api,
                                                              example: dict[str, Any]) -> None:
    before = year(api, example["position"])
    response = api.post(f"/assessments/{YEAR}/publication")
    assert response.status_code == 201, response.text
    published_at = response.json()["position"]
    frozen = year(api, published_at)
    assert frozen["published"] is True and frozen["amendments"] == []
    assert frozen["assessees"] == before["assessees"]
    # B's semester-2 rank is corrected from 2 to 1: 30 points instead of 20.
    corrected = exam(api, example["b"], 2, 1)
    after = year(api, corrected)
    assert after["published"] is True
    assert after["assessees"] == before["assessees"]
    assert after["student_awards"] == before["student_awards"]
    assert points(after, example["b"]) == 20
    (amendment,) = after["amendments"]
    assert amendment["child_id"] == example["b"]
    assert (amendment["old_points"], amendment["new_points"], amendment["difference"]) == (
        20, 30, 10)
    assert len(amendment["event_ids"]) == 1 and amendment["event_ids"][0].startswith(
        example["b"])
    trail = api.get(f"/assessments/{YEAR}/helpers/{example['volunteer']}").json()
    assert trail["points"] == 130 and trail["published"] is True


def test_a_second_publication_of_a_year_is_refused(api: Api, example: dict[str, Any]) -> None:
    assert api.post(f"/assessments/{YEAR}/publication").status_code == 201
    second = api.post(f"/assessments/{YEAR}/publication")
    assert second.status_code == 409, second.text


def test_the_xlsx_export_matches_the_api(api: Api, example: dict[str, Any]) -> None:
    found = year(api, example["position"])
    response = api.get(f"/assessments/{YEAR}/export.xlsx")
    assert response.status_code == 200, response.text
    book = load_workbook(BytesIO(response.content))
    assert {"志愿者", "班主任", "学生奖励"} <= set(book.sheetnames)
    for title, kind in (("志愿者", "volunteer"), ("班主任", "class_teacher")):
        rows = list(book[title].iter_rows(values_only=True))
        assert rows[0][:4] == ("编号", "姓名", "考核分", "奖励金额（分）")
        expected = {(x["helper_id"], x["name"], x["points"], x["award_fen"])
                    for x in found["assessees"] if x["kind"] == kind}
        assert {r[:4] for r in rows[1:]} == expected
    rows = list(book["学生奖励"].iter_rows(values_only=True))
    assert rows[0][0] == "学生编号"
    assert {r[0]: r[5] for r in rows[1:]} == awards(found)
    assert {r[1] for r in rows[1:]} == {"李小红", "王小刚"}


def test_a_rebuild_of_the_views_gives_identical_figures(api: Api,
                                                         example: dict[str, Any]) -> None:
    before = year(api, example["position"])
    published_at = api.post(f"/assessments/{YEAR}/publication").json()["position"]
    corrected = exam(api, example["b"], 2, 1)
    published = year(api, corrected)
    services = api.client.app.state.services  # type: ignore[attr-defined]
    services.runner.rebuild()
    again = year(api, corrected)
    assert again == published and again["assessees"] == before["assessees"]
    assert published_at < corrected


def test_roles_outside_the_table_may_not_read_or_publish(api: Api) -> None:
    post(api, "/users", {"username": "vol1", "password": "volunteer-pass-1", "agency":
                         "youth_league", "role": "volunteer",
                         "helper_id": "00000000-0000-0000-0000-000000000001"})
    volunteer = api.as_user("vol1", "volunteer-pass-1")
    assert volunteer.get(f"/assessments/{YEAR}").status_code == 403
    assert volunteer.post(f"/assessments/{YEAR}/publication").status_code == 403


def test_ties_a_change_of_class_a_second_volunteer_and_both_awards(api: Api) -> None:
    v1, v2 = helper(api, "volunteer", "志愿者甲"), helper(api, "volunteer", "志愿者乙")
    t2 = helper(api, "class_teacher", "二班老师", school=SCHOOL, class_name=CLASS)
    t3 = helper(api, "class_teacher", "三班老师", school=SCHOOL, class_name="六(3)班")
    tied = [register(api)["id"] for _ in range(2)]
    for child in tied:  # the same ranks earn the same points
        exam(api, child, 1, 9)
        exam(api, child, 2, 1)
    mover = register(api)["id"]
    post(api, f"/children/{mover}/pairings", {"helper_id": v1, "since": "2025-09-01"})
    post(api, f"/children/{mover}/pairings/{v1}/end", {"until": "2026-01-10", "reason": "调动"})
    post(api, f"/children/{mover}/pairings", {"helper_id": v2, "since": "2026-01-10"})
    exam(api, mover, 1, 10)
    post(api, f"/children/{mover}/enrollment",
         {"school": SCHOOL, "grade": "六年级", "class_name": "六(3)班"})
    last = exam(api, mover, 2, 5)
    found = year(api, last)
    # Ties: 8 places × 10 + 20 for no violation; rank 1 and 8 places risen: both awards.
    assert [points(found, c) for c in tied] == [100, 100]
    assert awards(found) == {tied[0]: 11500, tied[1]: 11500, mover: 3000 + 1500}
    # The mover's semester-2 result was earned in 六(3)班, with the second volunteer.
    assert points(found, mover) == 70
    assert assessee(found, t2)["points"] == 100 and assessee(found, t3)["points"] == 70
    assert assessee(found, v2)["points"] == 70
    assert v1 not in {x["helper_id"] for x in found["assessees"]}


def test_a_second_year_takes_last_years_semester_2_as_baseline(api: Api) -> None:
    child = register(api)["id"]
    exam(api, child, 1, 6)
    exam(api, child, 2, 4)
    exam(api, child, 1, 3, year=YEAR + 1)
    last = exam(api, child, 2, 7, year=YEAR + 1)
    response = api.get(f"/assessments/{YEAR + 1}", min_position=last)
    entry = next(c for c in response.json()["children"] if c["child_id"] == child)
    lines = {ln["rule"]: ln for ln in entry["lines"]}
    # Baseline 4 (semester 2 of last year) to 7: a fall costs nothing, and top 5 was lost.
    assert f"semester 2 of {YEAR}" in lines["rank_rise"]["reason"]
    assert lines["rank_rise"]["points"] == 0 and lines["top5_kept"]["points"] == 0
    assert entry["points"] == 20


# --- properties of the view, on an in-memory SQLite cursor (no HTTP: hundreds of cases) ---

children_strategy = st.lists(st.fixed_dictionaries({
    "s1": st.integers(1, 40), "s2": st.one_of(st.none(), st.integers(1, 40)),
    "serious": st.booleans(), "merit": st.booleans(),
    "volunteer": st.one_of(st.none(), st.integers(0, 2))}), min_size=1, max_size=6)


def _history(children: list[dict[str, Any]]) -> list[Any]:
    """The events of three volunteers and the generated children, in recorded order."""
    volunteers = [Helper.register({"name": f"v{i}", "role": "volunteer"}) for i in range(3)]
    aggregates: list[Any] = list(volunteers)
    for spec in children:
        child = Child.register({"name": "孩子", "birth_date": "2013-01-01", "school": SCHOOL,
                                "class_name": CLASS}, {}, [])
        if spec["volunteer"] is not None:
            child.pair_helper(str(volunteers[spec["volunteer"]].id), date(2025, 9, 1))
        child.record_exam_result(YEAR, 1, 500.0, spec["s1"], 45)
        if spec["serious"]:
            child.record_violation(datetime(2025, 10, 1, tzinfo=UTC), "serious", "打架")
        if spec["merit"]:
            child.award_honour(YEAR, "merit_student")
        if spec["s2"] is not None:
            child.record_exam_result(YEAR, 2, 500.0, spec["s2"], 45)
        aggregates.append(child)
    return [event for agg in aggregates for event in agg.collect_events()]


def _figures(view: AssessmentView, cur: ViewCursor, events: list[Any]) -> dict[str, Any]:
    for position, event in enumerate(events, start=1):
        view.apply(cur, position, event)
    return view.figures(cur, YEAR)


@settings(max_examples=60, deadline=None)
@given(children_strategy)
def test_volunteers_share_exactly_the_paired_childrens_points_and_a_rebuild_agrees(
        children: list[dict[str, Any]]) -> None:
    events = _history(children)
    connection = sqlite3.connect(":memory:")
    connection.row_factory = sqlite3.Row
    cur = ViewCursor(connection.cursor(), is_pg=False)
    view = AssessmentView(lambda name: name)
    view.create_tables(cur)
    first = _figures(view, cur, events)
    paired = {str(e.originator_id) for e in events if isinstance(e, Child.HelperPaired)}
    volunteers = sum(x["points"] for x in first["assessees"] if x["kind"] == "volunteer")
    assert volunteers == sum(c["points"] for c in first["children"] if c["child_id"] in paired)
    view.reset(cur)
    assert _figures(view, cur, events) == first
