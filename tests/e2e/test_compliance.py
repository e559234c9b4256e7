"""The compliance dashboard against a small data set counted by hand, and its spreadsheet."""

from io import BytesIO
from typing import Any

from openpyxl import load_workbook

from tests.conftest import Api, register

PASSWORD = "compliance-pass-1"
TOWN, SCHOOL, MONTH = "白沙关镇", "白沙关小学", "2026-10"


def helper(api: Api) -> str:
    made = api.post("/helpers", {"name": "刘妈妈", "agency": "womens_federation",
                                 "role": "volunteer", "phone": "13600001111"})
    return made.json()["id"]  # type: ignore[no-any-return]


def fact(api: Api, child: str, kind: str, when: str) -> int:
    if kind == "visit":
        body = {"occurred_at": when, "kind": "home", "findings": "正常"}
        response = api.post(f"/children/{child}/visits", body)
    else:
        body = {"occurred_at": when, "channel": "phone", "summary": "近况良好"}
        response = api.post(f"/children/{child}/parent-feedback", body)
    assert response.status_code == 200, response.text
    return response.json()["position"]  # type: ignore[no-any-return]


def incident(api: Api, child: str) -> dict[str, Any]:
    reported = api.post("/incidents", {
        "child_id": child, "category": "injury", "severity": "low",
        "occurred_at": "2026-10-05T16:00:00+08:00", "location": "操场", "description": "擦伤"})
    assert reported.status_code == 201, reported.text
    return reported.json()  # type: ignore[no-any-return]


def five_children(api: Api) -> tuple[list[str], int]:
    """By hand, for October 2026 in 白沙关镇 (c6 is elsewhere, c7 is closed: not counted):

    | child | ID no. | paired | complete | visited Oct | feedback Oct | open incident | overdue |
    | c1    | yes    | yes    | yes      | yes         | yes          |               |         |
    | c2    | no     | yes    | no       | yes         |              | yes           |         |
    | c3    | yes    | no     | no       | yes (31st)  |              | resolved      |         |
    | c4    | yes    | no     | no       | 1 Nov 00:30 | yes          |               | yes     |
    | c5    | yes    | yes    | yes      | 30 Sep      |              |               |         |
    registered 5; complete 2 (40%); paired 3 (60%); visited 3 (60%); feedback 2 (40%);
    open incidents 1 (20%); overdue actions 1 (20%).
    """
    c = [register(api, name=f"孩子{n}", **({"id_number": None} if n == 2 else {}))["id"]
         for n in range(1, 6)]
    elsewhere = register(api, name="孩子6", township="石门乡")["id"]
    closed = register(api, name="孩子7")["id"]
    volunteer = helper(api)
    for child in (c[0], c[1], c[4], elsewhere):
        api.post(f"/children/{child}/pairings", {"helper_id": volunteer, "since": "2026-09-01"})
    fact(api, c[0], "visit", "2026-10-02T09:00:00+08:00")
    fact(api, c[0], "visit", "2026-10-20T09:00:00+08:00")  # twice is still one child visited
    fact(api, c[1], "visit", "2026-10-10T09:00:00+08:00")
    fact(api, c[2], "visit", "2026-10-31T23:30:00+08:00")  # October in Asia/Shanghai
    fact(api, c[3], "visit", "2026-11-01T00:30:00+08:00")  # 31 Oct in UTC, November here
    fact(api, c[4], "visit", "2026-09-30T23:30:00+08:00")
    fact(api, c[0], "feedback", "2026-10-03T20:00:00+08:00")
    fact(api, c[3], "feedback", "2026-10-28T20:00:00+08:00")
    fact(api, elsewhere, "visit", "2026-10-02T09:00:00+08:00")
    fact(api, closed, "visit", "2026-10-02T09:00:00+08:00")
    api.post(f"/children/{closed}/status", {"status": "closed", "reason": "随父母外出"})
    incident(api, c[1])
    resolved = incident(api, c[2])
    api.post(f"/incidents/{resolved['id']}/resolution", {"outcome": "resolved", "note": "已处理"})
    held = api.post("/case-conferences", {
        "held_at": "2026-10-20T10:00:00+08:00", "child_ids": [c[3], c[4]],
        "attendees": [{"helper_id": volunteer}], "decisions": ["每周家访"],
        "actions": [
            {"description": "联系父母", "agency": "school", "child_id": c[3], "due": "2026-10-25"},
            {"description": "下月复查", "agency": "school", "child_id": c[4], "due": "2099-01-01"}]})
    assert held.status_code == 201, held.text
    return c, held.json()["position"]


def figures(api: Api, position: int, **filters: Any) -> dict[str, Any]:
    response = api.get("/dashboards/compliance", min_position=position, month=MONTH, **filters)
    assert response.status_code == 200, response.text
    return response.json()["figures"]  # type: ignore[no-any-return]


def test_the_dashboard_figures_match_a_hand_count(api: Api) -> None:
    c, position = five_children(api)
    found = figures(api, position, township=TOWN)
    summary = {k: (v["count"], v["total"], v["percent"]) for k, v in found.items()}
    assert summary == {
        "registered": (5, 5, 100.0), "complete_files": (2, 5, 40.0), "paired": (3, 5, 60.0),
        "visited": (3, 5, 60.0), "parent_feedback": (2, 5, 40.0),
        "open_incidents": (1, 5, 20.0), "overdue_actions": (1, 5, 20.0)}
    behind = {k: [ch["child_id"] for ch in v["shortfall"]] for k, v in found.items()}
    assert sorted(behind["complete_files"]) == sorted([c[1], c[2], c[3]])
    assert sorted(behind["paired"]) == sorted([c[2], c[3]])
    assert sorted(behind["visited"]) == sorted([c[3], c[4]])
    assert sorted(behind["parent_feedback"]) == sorted([c[1], c[2], c[4]])
    assert behind["open_incidents"] == [c[1]] and behind["overdue_actions"] == [c[3]]
    missing = {ch["child_id"]: ch["missing"] for ch in found["complete_files"]["shortfall"]}
    assert missing[c[1]] == ["id_number"] and missing[c[2]] == ["paired_helper"]
    assert {ch["name"] for ch in found["visited"]["shortfall"]} == {"孩子4", "孩子5"}


def test_filters_scope_and_roles(api: Api) -> None:
    _, position = five_children(api)
    assert figures(api, position)["registered"]["count"] == 6  # every township
    assert figures(api, position, township="石门乡")["visited"]["count"] == 1
    assert figures(api, position, school="别的学校")["registered"]["percent"] is None
    september = api.get("/dashboards/compliance", township=TOWN, month="2026-09").json()
    assert september["figures"]["visited"]["count"] == 1  # c5, on the 30th
    bad = api.get("/dashboards/compliance", month="2026-13")
    assert bad.status_code == 422 and "month" in bad.json()["errors"][0]["field"]
    for role, extra, code in (("auditor", {}, 200), ("grid_worker", {"village": "石门村"}, 200),
                              ("counsellor", {"school": SCHOOL}, 403)):
        made = api.post("/users", {"username": f"u.{role}", "password": PASSWORD,
                                   "agency": "township", "role": role, "township": "石门乡",
                                   **extra})
        assert made.status_code == 201, made.text
        seen = api.as_user(f"u.{role}", PASSWORD).get("/dashboards/compliance", month=MONTH)
        assert seen.status_code == code, seen.text
        if role == "grid_worker":  # a village of 石门乡 where nobody is registered
            assert seen.json()["figures"]["registered"]["count"] == 0


def test_the_spreadsheet_holds_the_same_figures_and_children(api: Api) -> None:
    _, position = five_children(api)
    response = api.get("/dashboards/compliance.xlsx", min_position=position, month=MONTH,
                       township=TOWN)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(BytesIO(response.content))
    assert book.sheetnames == ["指标", "未达标儿童"]
    rows = list(book["指标"].iter_rows(values_only=True))
    assert rows[0] == ("月份", "指标", "人数", "总数", "百分比（%）")
    assert ("2026-10", "本月已走访", 3, 5, 60) in rows
    assert ("2026-10", "档案完整（建档率）", 2, 5, 40) in rows
    children = list(book["未达标儿童"].iter_rows(values_only=True))
    assert children[0][:3] == ("指标", "儿童编号", "姓名")
    unvisited = sorted(r[2] for r in children if r[0] == "本月已走访")
    assert unvisited == ["孩子4", "孩子5"]
    assert ("档案完整（建档率）", "孩子2", "id_number") in {(r[0], r[2], r[6]) for r in children}


def test_a_merge_moves_contacts_and_incidents_to_the_survivor(api: Api) -> None:
    survivor = register(api, name="张小明", id_number=None)["id"]
    duplicate = register(api, name="张晓明")["id"]
    fact(api, duplicate, "visit", "2026-10-02T09:00:00+08:00")
    before = figures(api, incident(api, duplicate)["position"], township=TOWN)
    assert before["registered"]["count"] == 2
    merged = api.post(f"/children/{duplicate}/merge", {"into": survivor, "reason": "重复建档"})
    assert merged.status_code == 200, merged.text
    after = figures(api, merged.json()["position"], township=TOWN)
    assert after["registered"]["count"] == 1
    assert after["visited"]["count"] == 1 and after["open_incidents"]["count"] == 1
    assert after["visited"]["shortfall"] == [] and after["open_incidents"]["shortfall"][0][
        "child_id"] == survivor
