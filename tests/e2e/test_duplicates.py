"""Duplicate files: an ID number on file is refused (even at the same instant), likely
duplicates are listed with reasons, and a merge is followed by every view and by a rebuild."""

import json
import threading
from typing import Any
from uuid import uuid4

from domain.actor import SYSTEM
from domain.identity import DuplicateChild
from services import commands as c
from tests.conftest import Api, child_body, register

PASSWORD = "dup-password-1"
ID_NUMBER = "52260120140305111X"


def staff(api: Api, username: str, role: str = "township_supervisor") -> Api:
    made = api.post("/users", {"username": username, "password": PASSWORD, "agency": "township",
                               "role": role, "township": "白沙关镇"})
    assert made.status_code == 201, made.text
    return api.as_user(username, PASSWORD)


def visit(when: str = "2026-10-15T10:00:00+08:00") -> dict[str, Any]:
    return {"occurred_at": when, "kind": "home", "findings": "家中一切正常"}


# --- the ID number is one child -------------------------------------------------------------

def test_an_id_number_on_file_is_409_naming_the_existing_child(api: Api) -> None:
    first = register(api, id_number=ID_NUMBER)
    again = api.post("/children", child_body(name="张晓明", id_number=ID_NUMBER))
    assert again.status_code == 409, again.text
    assert again.json()["existing_child_id"] == first["id"]
    assert first["id"] in again.json()["detail"]
    other = api.post("/children", child_body(name="张晓明", id_number="522601201403052226"))
    assert other.status_code == 201
    without = api.post("/children", child_body(name="张晓明", id_number=None))
    assert without.status_code == 201  # no ID number: nothing to compare, listed as likely


def test_two_agencies_registering_one_id_number_at_once_exactly_one_wins(api: Api) -> None:
    township = staff(api, "bai.duban")
    for attempt in range(3):
        number = f"52260120140305{attempt:03d}5"
        start, answers = threading.Barrier(2), []

        def go(who: Api, name: str) -> None:
            start.wait()
            answers.append(who.post("/children", child_body(name=name, id_number=number)))

        threads = [threading.Thread(target=go, args=pair)
                   for pair in ((api, "张小明"), (township, "张晓明"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        codes = sorted(a.status_code for a in answers)
        assert codes == [201, 409], [a.text for a in answers]
        won = next(a for a in answers if a.status_code == 201).json()["id"]
        lost = next(a for a in answers if a.status_code == 409).json()
        assert lost["existing_child_id"] == won


def test_eight_writers_racing_on_one_id_number_store_one_child(api: Api) -> None:
    """Each with its own child id, so no in-process lock orders them: the store decides."""
    services = api.client.app.state.services  # type: ignore[attr-defined]
    start, won, refused = threading.Barrier(8), [], []

    def go(n: int) -> None:
        cmd = c.RegisterChild.model_validate(child_body(id=str(uuid4()), name=f"王{n}",
                                                        id_number=ID_NUMBER))
        start.wait()
        try:
            won.append(services.handlers.register_child(cmd, SYSTEM, None).body["id"])
        except DuplicateChild as error:
            refused.append(error.details["existing_child_id"])

    threads = [threading.Thread(target=go, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(refused) == 7
    assert set(refused) == set(won)


# --- likely duplicates ----------------------------------------------------------------------

def test_likely_duplicates_are_listed_with_their_reasons(api: Api) -> None:
    ming = register(api, name="张小明", id_number=None)
    # 张晓明: other characters, the same pinyin (zhangxiaoming); same guardian phone and village.
    xiao = register(api, name="张晓明", id_number=ID_NUMBER)
    # Same name and birth date, but another village and guardian phone: not listed.
    register(api, name="张小明", id_number=None, village="石门村",
             guardian={"name": "李奶奶", "relation": "祖母", "phone": "13900009999"})
    # Same name, village and birth date, but two different ID numbers: two children (twins).
    register(api, name="李小红", id_number="522601201403050011")
    register(api, name="李小红", id_number="522601201403050029")
    # Same name and guardian, another birth date: not listed.
    last = register(api, name="张小明", id_number=None, birth_date="2015-03-05")
    found = api.get("/children/duplicates", min_position=last["position"])
    assert found.status_code == 200, found.text
    items = found.json()["items"]
    assert len(items) == 1, items
    assert [ch["child_id"] for ch in items[0]["children"]] == [ming["id"], xiao["id"]]
    assert items[0]["reasons"] == ["same_pinyin", "same_birth_date", "same_guardian_phone",
                                   "same_village"]
    assert "id_number" not in json.dumps(items)


def test_the_duplicates_route_is_not_taken_for_a_child_id_and_pages(api: Api) -> None:
    last = None
    for n, village in enumerate(("甲村", "乙村", "丙村")):
        guardian = {"name": "刘奶奶", "relation": "祖母", "phone": f"1380000{n:04d}"}
        for _ in range(2):
            last = register(api, name="刘一", id_number=None, village=village, guardian=guardian)
    assert last is not None
    page = api.get("/children/duplicates", min_position=last["position"], limit=2).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = api.get("/children/duplicates", limit=2, cursor=page["next_cursor"]).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert {i["children"][0]["village"] for i in page["items"] + rest["items"]} == {
        "甲村", "乙村", "丙村"}
    assert api.get("/children/duplicates", cursor="x").status_code == 422


# --- merge ----------------------------------------------------------------------------------

def merge(api: Api, absorbed: str, survivor: str, **extra: Any) -> Any:
    return api.post(f"/children/{absorbed}/merge", {"into": survivor, "reason": "重复建档",
                                                     **extra})


def twins_of_one_child(api: Api) -> tuple[str, str, str, int]:
    """The survivor (registered by the school, no ID number) and its duplicate (registered by
    the township with the ID number), each with facts of its own; and a helper paired with
    the duplicate."""
    survivor = register(api, name="张小明", id_number=None)["id"]
    duplicate = register(api, name="张晓明", id_number=ID_NUMBER)["id"]
    helper = api.post("/helpers", {"name": "刘妈妈", "agency": "womens_federation",
                                   "role": "volunteer", "phone": "13600001111"}).json()["id"]
    api.post(f"/children/{duplicate}/pairings", {"helper_id": helper, "since": "2025-09-01"})
    api.post(f"/children/{duplicate}/visits", visit())
    api.post(f"/children/{survivor}/parent-feedback", {
        "occurred_at": "2026-10-20T20:00:00+08:00", "channel": "wechat", "summary": "成绩进步"})
    reported = api.post("/incidents", {
        "child_id": duplicate, "category": "injury", "severity": "low",
        "occurred_at": "2026-10-21T16:00:00+08:00", "location": "学校操场", "description": "摔伤"})
    assert reported.status_code == 201, reported.text
    return survivor, duplicate, helper, reported.json()["position"]


def test_merge_closes_the_duplicate_and_the_survivor_shows_both_histories(api: Api) -> None:
    survivor, duplicate, helper, position = twins_of_one_child(api)
    assert merge(staff(api, "supervisor"), duplicate, survivor).status_code == 403
    assert merge(api, duplicate, duplicate).json()["errors"][0]["field"] == "into"
    merged = merge(api, duplicate, survivor)
    assert merged.status_code == 200, merged.text
    assert merged.json()["merged_into"] == survivor
    at = merged.json()["position"]

    gone = api.get(f"/children/{duplicate}", min_position=at).json()
    assert gone["profile"]["status"] == "merged"
    assert gone["profile"]["merged_into"] == survivor
    assert gone["timeline"][0]["type"] == "MergedInto"  # its own history is kept as it was
    assert {"Registered", "VisitRecorded"} <= {e["type"] for e in gone["timeline"]}

    kept = api.get(f"/children/{survivor}").json()
    assert kept["profile"]["absorbed"] == [duplicate]
    lines = {(e["type"], e.get("from_child_id")) for e in kept["timeline"]}
    assert {("Merged", None), ("ParentFeedbackGiven", None), ("Registered", None),
            ("Registered", duplicate), ("VisitRecorded", duplicate),
            ("IncidentReported", duplicate)} <= lines
    assert ("HelperPaired", None) in lines  # the helper now cares for the surviving file

    active = api.get("/children", status="active").json()["items"]
    assert [i["child_id"] for i in active] == [survivor]
    assert [i["child_id"] for i in api.get("/children", status="merged").json()["items"]] == [
        duplicate]
    assert api.get("/children/duplicates").json()["items"] == []
    paired = api.get(f"/helpers/{helper}").json()["children"]
    assert [p["child_id"] for p in paired] == [survivor]
    assert position < at
    # An emergency lookup finds the surviving file only, never the merged one.
    # 张小明 and 张晓明 share the pinyin initials: before the merge "zxm" finds both.
    found = api.get("/emergency/lookup", q="zxm", min_position=at).json()["items"]
    assert [f["child_id"] for f in found] == [survivor]


def test_a_merged_file_refuses_every_command_naming_the_survivor(api: Api) -> None:
    survivor, duplicate, helper, _ = twins_of_one_child(api)
    merge(api, duplicate, survivor)
    for path, body in ((f"/children/{duplicate}/visits", visit()),
                       (f"/children/{duplicate}/status", {"status": "active", "reason": "再开"}),
                       (f"/children/{duplicate}/pairings/{helper}/end",
                        {"until": "2026-11-01", "reason": "结束"}),
                       (f"/children/{duplicate}/merge", {"into": survivor, "reason": "再次"})):
        refused = api.post(path, body)
        assert refused.status_code == 409, (path, refused.text)
        assert refused.json()["merged_into"] == survivor
    third = register(api, name="王小丫", id_number=None)["id"]
    assert merge(api, third, duplicate).json()["merged_into"] == survivor
    # The duplicate's ID number now names the surviving file.
    again = api.post("/children", child_body(name="张小明", id_number=ID_NUMBER))
    assert again.status_code == 409 and again.json()["existing_child_id"] == survivor


def test_a_rebuild_after_merges_gives_the_same_views(api: Api) -> None:
    survivor, duplicate, _, _ = twins_of_one_child(api)
    merge(api, duplicate, survivor)
    third = register(api, name="张小明", id_number=None, class_name="六(1)班")["id"]
    api.post(f"/children/{third}/visits", visit("2026-11-02T09:00:00+08:00"))
    last = merge(api, survivor, third).json()["position"]  # a file that had absorbed one
    services = api.client.app.state.services  # type: ignore[attr-defined]
    assert services.runner.wait_for(last, 5)
    before = snapshot(services)
    assert before["compliance_contacts"] and before["duplicates_children"]
    services.runner.rebuild()
    assert services.runner.wait_for(last, 5)
    assert snapshot(services) == before
    shown = api.get(f"/children/{third}").json()
    assert set(shown["profile"]["absorbed"]) == {survivor, duplicate}
    assert {e.get("from_child_id") for e in shown["timeline"]} == {None, survivor, duplicate}


VIEW_TABLES = ("archive_files", "archive_timeline", "archive_incidents", "registry_children",
               "directory_pairings", "duplicates_children", "compliance_contacts",
               "compliance_incidents")


def snapshot(services: Any) -> dict[str, list[str]]:
    with services.db.reading() as cur:
        return {t: sorted(json.dumps(r, sort_keys=True, default=str) for r in cur.execute(
            f"SELECT * FROM {services.db.table(t)}").fetchall()) for t in VIEW_TABLES}
