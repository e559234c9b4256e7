"""schemathesis hooks for tests/e2e/test_fuzz.py (loaded through SCHEMATHESIS_HOOKS).

Data generated from the schema alone rarely passes the domain's rules (a birth date in the
past, an ID number not yet on file, a programme that exists), so the commands that create
ids would seldom answer 201 and the stateful phase would have no id to follow a link with.
Half of the valid (positive) cases of those commands are given a body that passes them;
values a link put there (a child's id from POST /children) are kept. Invalid (negative)
cases are left as generated.
"""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import schemathesis

from infra.demo import demo_id

PROGRAMME = "FUZZ"  # opened by test_fuzz.fuzz before the run
LINKED = ("child_id", "helper_id", "programme")


def _digits(count: int) -> str:
    return "".join(random.choice("0123456789") for _ in range(count))


def _when() -> str:
    return (datetime.now(UTC) - timedelta(hours=random.randint(1, 500))).isoformat()


def _child() -> dict[str, Any]:
    return {"name": random.choice("张王李赵刘") + random.choice(["小明", "晓红", "子涵", "一诺"]),
            "sex": random.choice(["female", "male"]), "birth_date": "2014-03-05",
            "id_number": "5226" + _digits(13) + random.choice("0123456789X"),
            "school": "白沙关小学", "grade": "六年级", "class_name": "六(2)班",
            "township": "白沙关镇", "village": "白沙关村", "left_behind_type": "one_parent_away",
            "guardian": {"name": "张奶奶", "relation": "祖母", "phone": "138" + _digits(8)}}


def _helper() -> dict[str, Any]:
    return {"name": "王老师", "agency": "school", "role": "class_teacher",
            "phone": "139" + _digits(8), "school": "白沙关小学", "class_name": "六(2)班",
            "township": "白沙关镇"}


def _incident() -> dict[str, Any]:
    return {"child_id": demo_id("child", 0), "category": random.choice(["injury", "abuse"]),
            "severity": "low", "occurred_at": _when(), "location": "操场"}


def _grant() -> dict[str, Any]:
    return {"child_id": demo_id("child", 0), "programme": PROGRAMME, "amount_fen": 5000,
            "period": f"20{_digits(2)}", "kind": "cash"}


def _programme() -> dict[str, Any]:
    return {"code": f"P-{_digits(8)}", "name": "助学金", "funding_agency": "education",
            "cap_fen": 100000, "period_kind": "yearly"}


def _conference() -> dict[str, Any]:
    due = (datetime.now(UTC) + timedelta(days=14)).date().isoformat()
    return {"held_at": _when(), "child_ids": [demo_id("child", 1)],
            "decisions": ["每周家访一次"], "actions": [
                {"description": "联系父母", "agency": "school", "due": due}]}


def _user() -> dict[str, Any]:
    return {"username": f"fuzz.{_digits(10)}", "password": "Fuzz-pass-" + _digits(6),
            "agency": "township", "role": "auditor"}


VALID = {("POST", "/children"): _child, ("POST", "/helpers"): _helper,
         ("POST", "/incidents"): _incident, ("POST", "/grants"): _grant,
         ("POST", "/programmes"): _programme, ("POST", "/case-conferences"): _conference,
         ("POST", "/users"): _user}


@schemathesis.hook
def map_case(context: Any, case: Any) -> Any:
    make = VALID.get((case.operation.method.upper(), case.operation.path))
    meta = getattr(case, "_meta", None)
    if make is None or meta is None or meta.generation.mode.is_negative:
        return case
    if random.random() < 0.5:
        linked = {k: case.body[k] for k in LINKED if isinstance(case.body, dict) and k in case.body}
        case.body = {**make(), **linked}
    return case


FUZZER = "admin"  # the account the fuzzer signs in with (tests/faults/harness.ADMIN)


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    """The fuzzer never disables or demotes its own account: links it infers from GET /users
    hand it its own username, and every later call would then be a 401."""
    if (case.path_parameters or {}).get("username") == FUZZER:
        case.path_parameters["username"] = "someone-else"
