"""The risk flags of a case review, each at its boundary; pure, no store."""

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.risk import (
    DEFAULT_POLICY,
    SHANGHAI,
    Counselling,
    Exam,
    Facts,
    OpenAction,
    RiskPolicy,
    is_overdue,
    risk_flags,
)

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=SHANGHAI)
REGISTERED = datetime(2025, 9, 1, 9, 0, tzinfo=SHANGHAI)
# Feedback every month since registration, so that only the flag under test shows.
MONTHLY = tuple(datetime(2025 + (8 + m) // 12, (8 + m) % 12 + 1, 10, tzinfo=SHANGHAI)
                for m in range(9))  # September 2025 to May 2026


def facts(**changes: object) -> Facts:
    base: dict[str, object] = {"registered_at": REGISTERED, "visits": (NOW - timedelta(days=1),),
                               "parent_feedback": MONTHLY}
    return Facts(**{**base, **changes})  # type: ignore[arg-type]


def flags(f: Facts, now: datetime = NOW) -> dict[str, list[object]]:
    found: dict[str, list[object]] = {}
    for flag in risk_flags(f, now):
        found.setdefault(flag.flag, []).append(flag)
    return found


def test_a_well_followed_child_has_no_flag() -> None:
    assert flags(facts()) == {}


@pytest.mark.parametrize("days,flagged", [(29, False), (30, True), (31, True)])
def test_no_visit_for_30_days(days: int, flagged: bool) -> None:
    last = NOW - timedelta(days=days)
    found = flags(facts(visits=(last - timedelta(days=40), last)))
    assert ("no_visit_30_days" in found) is flagged
    if flagged:
        flag = found["no_visit_30_days"][0]
        assert flag.since == last + timedelta(days=30)  # type: ignore[attr-defined]
        assert f"{days} days ago" in flag.detail  # type: ignore[attr-defined]


def test_no_visit_counts_from_registration_when_never_visited() -> None:
    assert "no_visit_30_days" not in flags(facts(visits=()), REGISTERED + timedelta(days=29))
    found = flags(facts(visits=()), REGISTERED + timedelta(days=31))
    assert "since registration" in found["no_visit_30_days"][0].detail  # type: ignore[attr-defined]


def test_a_visit_after_the_moment_is_not_yet_known() -> None:
    later = (NOW + timedelta(days=2),)
    assert "no_visit_30_days" in flags(facts(visits=later), REGISTERED + timedelta(days=40))


def test_a_closed_case_owes_no_visit_nor_feedback() -> None:
    assert flags(facts(visits=(), parent_feedback=(), active=False)) == {}


def test_parent_feedback_last_day_of_last_month_counts() -> None:
    """Months are those of Asia/Shanghai: 23:30 on 31 May there is still May."""
    may_last = datetime(2026, 5, 31, 23, 30, tzinfo=SHANGHAI)
    assert "parent_feedback_missed" not in flags(facts(parent_feedback=(*MONTHLY[:-1], may_last)))


def test_parent_feedback_missed_last_month() -> None:
    june_first = datetime(2026, 6, 1, 0, 30, tzinfo=SHANGHAI)
    found = flags(facts(parent_feedback=(*MONTHLY[:-1], june_first)))
    flag = found["parent_feedback_missed"][0]
    assert flag.since == datetime(2026, 6, 1, tzinfo=SHANGHAI)  # type: ignore[attr-defined]
    assert "2026-05" in flag.detail  # type: ignore[attr-defined]


def test_parent_feedback_missed_run_starts_at_the_first_missed_month() -> None:
    found = flags(facts(parent_feedback=MONTHLY[:-3]))  # nothing in March, April, May
    flag = found["parent_feedback_missed"][0]
    assert flag.since == datetime(2026, 4, 1, tzinfo=SHANGHAI)  # type: ignore[attr-defined]
    assert "3 month(s): 2026-03 to 2026-05" in flag.detail  # type: ignore[attr-defined]


def test_the_month_of_registration_is_never_owed() -> None:
    registered = datetime(2026, 5, 20, tzinfo=SHANGHAI)
    recent = facts(registered_at=registered, parent_feedback=())
    assert "parent_feedback_missed" not in flags(recent)
    assert "parent_feedback_missed" in flags(recent, datetime(2026, 7, 1, 8, tzinfo=SHANGHAI))


def exam(year: int, semester: int, rank: int, day: int) -> Exam:
    return Exam(year, semester, rank, REGISTERED + timedelta(days=day))


@pytest.mark.parametrize("fall,flagged", [(9, False), (10, True), (15, True), (-5, False)])
def test_rank_fall_of_10_places(fall: int, flagged: bool) -> None:
    found = flags(facts(exams=(exam(2025, 1, 12, 140), exam(2025, 2, 12 + fall, 250))))
    assert ("rank_fall_10" in found) is flagged
    if flagged:
        assert found["rank_fall_10"][0].since == REGISTERED + timedelta(days=250)  # type: ignore


def test_rank_fall_compares_the_latest_two_exams_in_school_order() -> None:
    # recorded out of order: semester 1 recorded after semester 2
    exams = (exam(2025, 2, 25, 200), exam(2025, 1, 10, 210), exam(2024, 2, 3, 1))
    assert "rank_fall_10" in flags(facts(exams=exams))


def test_a_corrected_exam_result_replaces_the_first() -> None:
    exams = (exam(2025, 1, 12, 140), exam(2025, 2, 30, 250), exam(2025, 2, 14, 260))
    assert "rank_fall_10" not in flags(facts(exams=exams))


@pytest.mark.parametrize("ago,flagged", [((10,), False), ((10, 89), True), ((10, 91), False),
                                         ((1, 2, 3), True)])
def test_two_incidents_in_90_days(ago: tuple[int, ...], flagged: bool) -> None:
    incidents = tuple(NOW - timedelta(days=d) for d in ago)
    found = flags(facts(incidents=incidents))
    assert ("repeated_incidents" in found) is flagged
    if flagged:
        assert found["repeated_incidents"][0].since == sorted(incidents)[1]  # type: ignore


@pytest.mark.parametrize("levels,flagged", [(("low",), False), (("medium", "high"), True),
                                            (("high", "medium"), False),
                                            (("high", "low", "high", "high"), True)])
def test_high_risk_counselling_is_the_latest_assessment(levels: tuple[str, ...],
                                                        flagged: bool) -> None:
    sessions = tuple(Counselling(NOW - timedelta(days=10 * (len(levels) - i)), level)
                     for i, level in enumerate(levels))
    found = flags(facts(counselling=sessions))
    assert ("high_risk_counselling" in found) is flagged
    if flagged and levels[-2:] == ("high", "high"):
        assert found["high_risk_counselling"][0].since == sessions[-2].occurred_at  # type: ignore


@pytest.mark.parametrize("due,flagged", [(date(2026, 6, 15), False), (date(2026, 6, 14), True),
                                         (date(2026, 7, 1), False)])
def test_action_overdue_from_the_day_after_due(due: date, flagged: bool) -> None:
    found = flags(facts(open_actions=(OpenAction("a-1", "联系父母", due),)))
    assert ("overdue_action" in found) is flagged
    if flagged:
        flag = found["overdue_action"][0]
        assert flag.action_id == "a-1"  # type: ignore[attr-defined]
        assert flag.since == datetime(2026, 6, 15, tzinfo=SHANGHAI)  # type: ignore[attr-defined]


def test_due_dates_are_days_in_shanghai() -> None:
    # 17:00 UTC on 14 June is already 01:00 on 15 June in Shanghai: due the 14th is late.
    assert is_overdue(date(2026, 6, 14), datetime(2026, 6, 14, 17, 0, tzinfo=UTC))
    assert not is_overdue(date(2026, 6, 14), datetime(2026, 6, 14, 15, 59, tzinfo=UTC))


def test_thresholds_come_from_the_policy() -> None:
    strict = RiskPolicy(version="weekly", visit_within_days=7)
    f = facts(visits=(NOW - timedelta(days=8),))
    assert "no_visit_30_days" not in flags(f)
    assert [x.flag for x in risk_flags(f, NOW, strict)] == ["no_visit_30_days"]
    assert DEFAULT_POLICY.visit_within_days == 30


@given(st.lists(st.integers(min_value=0, max_value=400), max_size=8))
def test_incident_flag_matches_a_count_over_the_window(days_ago: list[int]) -> None:
    incidents = tuple(NOW - timedelta(days=d, minutes=1) for d in days_ago)
    expected = sum(1 for d in days_ago if d < 90) >= 2
    assert ("repeated_incidents" in flags(facts(incidents=incidents))) is expected


def test_an_exam_recorded_after_the_moment_is_not_yet_known() -> None:
    exams = (exam(2025, 1, 5, 100), exam(2025, 2, 30, 250))
    assert "rank_fall_10" in flags(facts(exams=exams))
    assert "rank_fall_10" not in flags(facts(exams=exams), REGISTERED + timedelta(days=200))
