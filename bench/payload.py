"""The command bodies every variant writes: one child registration and its visits."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from services import commands as c

VISIT_START = datetime(2025, 9, 15, 2, tzinfo=UTC)


def child_id(n: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"qianshou:bench:child:{n}")


def id_number(n: int) -> str:
    """An ID number of its own per child: a second registration of one is refused."""
    return f"5226{n % 10**10:010d}1228"


def child_body(n: int) -> dict[str, Any]:
    """The shape of tests/conftest.py's child_body, with an id and ID number of its own."""
    return {
        "id": str(child_id(n)), "name": "张小明", "sex": "male", "birth_date": "2014-03-05",
        "id_number": id_number(n), "school": "白沙关小学", "grade": "六年级",
        "class_name": "六(2)班", "township": "白沙关镇", "village": "白沙关村",
        "left_behind_type": "both_parents_away", "reason": "父母在广州务工",
        "guardian": {"name": "张奶奶", "relation": "祖母", "phone": "13800001111", "age": 67,
                     "health": "高血压", "address": "白沙关村三组"},
        "parents": [{"name": "张大山", "relation": "父亲", "phone": "13700002222",
                     "work_city": "广州"}],
    }


def visit_body(k: int) -> dict[str, Any]:
    return {"occurred_at": (VISIT_START + timedelta(days=7 * k)).isoformat(), "kind": "home",
            "findings": f"第{k + 1}次走访：孩子身体健康，学习认真，祖母照顾周到。",
            "needs_followup": False, "contacts_confirmed": ["13800001111"]}


def registration_parts(n: int) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, Any]]]:
    """Profile, guardian and parents exactly as the project's handler stores them."""
    cmd = c.RegisterChild.model_validate(child_body(n))
    return (cmd.profile(), cmd.guardian.model_dump(mode="json"),
            [p.model_dump(mode="json") for p in cmd.parents])
