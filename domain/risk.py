"""Risk flags of a case review (个案会商): a pure function of the facts known at a moment.

docs/DOMAIN.md §6 "Risk flags": no visit for 30 days, monthly parent feedback missed, a
fall of 10 or more class places, two or more incidents in 90 days, a high-risk counselling
session, and actions past their due date. The thresholds are policy, kept together in
RiskPolicy and named by its version in every review (per-place settings: docs/DOMAIN.md
"Not built yet").
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

# Due dates and months are those of the calendar where the children live.
SHANGHAI = ZoneInfo("Asia/Shanghai")

FLAGS = ("no_visit_30_days", "parent_feedback_missed", "rank_fall_10", "repeated_incidents",
         "high_risk_counselling", "overdue_action")


@dataclass(frozen=True)
class RiskPolicy:
    """The thresholds of the flags: one place of values, versioned because local rules differ."""

    version: str = "2026-1"
    visit_within_days: int = 30
    rank_fall_places: int = 10
    incident_window_days: int = 90
    incidents_repeated: int = 2
    counselling_risk_level: str = "high"


DEFAULT_POLICY = RiskPolicy()


@dataclass(frozen=True)
class Exam:
    school_year: int
    semester: int
    class_rank: int
    recorded_at: datetime


@dataclass(frozen=True)
class Counselling:
    occurred_at: datetime
    risk_level: str


@dataclass(frozen=True)
class OpenAction:
    action_id: str
    description: str
    due: date


@dataclass(frozen=True)
class Facts:
    """What the review knows about one child; times are timezone-aware."""

    registered_at: datetime
    active: bool = True  # visits and feedback are owed only while the case is active
    visits: tuple[datetime, ...] = ()
    parent_feedback: tuple[datetime, ...] = ()
    exams: tuple[Exam, ...] = ()
    incidents: tuple[datetime, ...] = ()
    counselling: tuple[Counselling, ...] = ()
    open_actions: tuple[OpenAction, ...] = ()


@dataclass(frozen=True)
class Flag:
    flag: str
    since: datetime
    detail: str
    action_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"flag": self.flag, "since": self.since.isoformat(),
                                 "detail": self.detail}
        if self.action_id is not None:
            shown["action_id"] = self.action_id
        return shown


def local_date(moment: datetime) -> date:
    return moment.astimezone(SHANGHAI).date()


def start_of(day: date) -> datetime:
    """Midnight of a calendar day in Asia/Shanghai."""
    return datetime.combine(day, time(0), SHANGHAI)


def is_overdue(due: date, now: datetime) -> bool:
    """An action is overdue from the day after its due date."""
    return due < local_date(now)


def risk_flags(facts: Facts, now: datetime, policy: RiskPolicy = DEFAULT_POLICY) -> list[Flag]:
    """Every flag that holds at `now`; facts after `now` are not yet known and are ignored."""
    checks: tuple[Callable[[Facts, datetime, RiskPolicy], Flag | None], ...] = (
        no_visit, parent_feedback_missed, rank_fall, repeated_incidents,
        high_risk_counselling)
    flags = [flag for check in checks if (flag := check(facts, now, policy)) is not None]
    return flags + overdue_actions(facts, now)


def _until(moments: Iterable[datetime], now: datetime) -> list[datetime]:
    return sorted(m for m in moments if m <= now)


def no_visit(facts: Facts, now: datetime, policy: RiskPolicy) -> Flag | None:
    """No visit for `visit_within_days` since the last one (or since registration)."""
    if not facts.active:
        return None
    visits = _until(facts.visits, now)
    base = visits[-1] if visits else facts.registered_at
    due = base + timedelta(days=policy.visit_within_days)
    if now < due:
        return None
    days = (now - base).days
    detail = (f"last visit on {local_date(base)}, {days} days ago" if visits
              else f"no visit since registration on {local_date(base)}, {days} days ago")
    return Flag("no_visit_30_days", due, detail)


def _month(moment: datetime) -> int:
    """Months counted from year 0, in Asia/Shanghai: consecutive months differ by one."""
    day = local_date(moment)
    return day.year * 12 + day.month - 1


def _label(month: int) -> str:
    return f"{month // 12:04d}-{month % 12 + 1:02d}"


def parent_feedback_missed(facts: Facts, now: datetime, policy: RiskPolicy) -> Flag | None:
    """The last whole month passed without feedback to the parents away (每月反馈).

    The month of registration is never owed. The flag stands since the end of the first
    month of the unbroken run of missed months that ends with last month.
    """
    if not facts.active:
        return None
    given = {_month(t) for t in _until(facts.parent_feedback, now)}
    first_owed = _month(facts.registered_at) + 1
    missed, month = [], _month(now) - 1
    while month >= first_owed and month not in given:
        missed.append(month)
        month -= 1
    if not missed:
        return None
    earliest = missed[-1]
    since = start_of(date((earliest + 1) // 12, (earliest + 1) % 12 + 1, 1))
    span = _label(earliest) if len(missed) == 1 else f"{_label(earliest)} to {_label(missed[0])}"
    return Flag("parent_feedback_missed", since,
                f"no feedback to the parents in {len(missed)} month(s): {span}")


def rank_fall(facts: Facts, now: datetime, policy: RiskPolicy) -> Flag | None:
    """The latest exam ranks `rank_fall_places` or more below the exam before it."""
    latest: dict[tuple[int, int], Exam] = {}
    for exam in sorted((e for e in facts.exams if e.recorded_at <= now),
                       key=lambda e: e.recorded_at):
        latest[(exam.school_year, exam.semester)] = exam  # a correction replaces the result
    ordered = [latest[key] for key in sorted(latest)]
    if len(ordered) < 2:
        return None
    before, last = ordered[-2], ordered[-1]
    fall = last.class_rank - before.class_rank
    if fall < policy.rank_fall_places:
        return None
    return Flag("rank_fall_10", last.recorded_at,
                f"class rank fell {fall} places, from {before.class_rank} "
                f"({before.school_year} semester {before.semester}) to {last.class_rank} "
                f"({last.school_year} semester {last.semester})")


def repeated_incidents(facts: Facts, now: datetime, policy: RiskPolicy) -> Flag | None:
    """`incidents_repeated` or more incidents in the last `incident_window_days` days."""
    start = now - timedelta(days=policy.incident_window_days)
    recent = [t for t in _until(facts.incidents, now) if t > start]
    if len(recent) < policy.incidents_repeated:
        return None
    return Flag("repeated_incidents", recent[policy.incidents_repeated - 1],
                f"{len(recent)} incidents in the last {policy.incident_window_days} days")


def high_risk_counselling(facts: Facts, now: datetime, policy: RiskPolicy) -> Flag | None:
    """The latest counselling session assessed high risk; a later, lower one clears it."""
    sessions = sorted((c for c in facts.counselling if c.occurred_at <= now),
                      key=lambda c: c.occurred_at)
    level = policy.counselling_risk_level
    if not sessions or sessions[-1].risk_level != level:
        return None
    run = 0
    while run < len(sessions) and sessions[-1 - run].risk_level == level:
        run += 1
    first = sessions[-run]
    return Flag("high_risk_counselling", first.occurred_at,
                f"{run} latest counselling session(s) assessed {level} risk, "
                f"since {local_date(first.occurred_at)}")


def overdue_actions(facts: Facts, now: datetime) -> list[Flag]:
    """One flag per open action past its due date."""
    return [Flag("overdue_action", start_of(action.due + timedelta(days=1)),
                 f"due {action.due}: {action.description[:80]}", action.action_id)
            for action in sorted(facts.open_actions, key=lambda a: a.due)
            if is_overdue(action.due, now)]
