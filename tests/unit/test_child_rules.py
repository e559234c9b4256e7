"""The Child aggregate's rules, without a store."""

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.child import Child
from domain.errors import ConflictingState, InvalidFact
from domain.values import utcnow


def new_child() -> Child:
    return Child.register({"name": "张小明", "birth_date": "2014-03-05", "school": "白沙关小学",
                           "class_name": "六(2)班"}, {"name": "张奶奶"}, [])


def test_every_event_carries_actor_agency_and_both_times() -> None:
    child = new_child()
    child.record_visit(utcnow(), "home", "好", False, [])
    for event in child.collect_events():
        assert event.actor_id and event.agency
        assert event.occurred_at.tzinfo is not None and event.recorded_at.tzinfo is not None


def test_closed_case_accepts_only_a_status_change() -> None:
    child = new_child()
    child.change_status("closed", "moved away")
    with pytest.raises(ConflictingState):
        child.record_visit(utcnow(), "home", "x", False, [])
    child.change_status("active", "came back")
    child.record_visit(utcnow(), "home", "x", False, [])


def test_helper_cannot_be_paired_twice_at_once() -> None:
    child = new_child()
    child.pair_helper("h1", date(2025, 9, 1))
    with pytest.raises(ConflictingState):
        child.pair_helper("h1", date(2025, 10, 1))
    child.end_pairing("h1", date(2025, 12, 1), "moved")
    child.pair_helper("h1", date(2026, 1, 1))


@pytest.mark.parametrize("rank,size,semester,field", [(41, 40, 1, "class_rank"),
                                                       (0, 40, 1, "class_rank"),
                                                       (3, 40, 3, "semester")])
def test_exam_result_rules(rank: int, size: int, semester: int, field: str) -> None:
    with pytest.raises(InvalidFact) as error:
        new_child().record_exam_result(2025, semester, 400, rank, size)
    assert error.value.field == field


def test_occurred_at_may_be_five_minutes_ahead_but_not_more() -> None:
    child = new_child()
    child.record_visit(utcnow() + timedelta(minutes=4), "home", "x", False, [])
    with pytest.raises(InvalidFact, match="future"):
        child.record_visit(utcnow() + timedelta(minutes=6), "home", "x", False, [])


def test_occurred_at_not_before_birth() -> None:
    with pytest.raises(InvalidFact, match="birth"):
        new_child().record_visit(datetime(2013, 1, 1, tzinfo=UTC), "home", "x", False, [])
