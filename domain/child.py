"""The Child aggregate: one file per child (一人一档), every fact an immutable event."""

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.errors import ConflictingState, InvalidFact
from domain.recorded import RecordedEvent, meta
from domain.values import check_occurred_at, utcnow


class Child(Aggregate):
    """A left-behind child's case file. Public methods decide; nested events record."""

    class Event(RecordedEvent):
        pass

    class Registered(Aggregate.Created, Event):
        profile: dict[str, Any]
        guardian: dict[str, Any]
        parents: list[dict[str, Any]]

    def __init__(self, profile: dict[str, Any], guardian: dict[str, Any],
                 parents: list[dict[str, Any]], **_: Any) -> None:
        self.profile = dict(profile)
        self.guardian = dict(guardian)
        self.parents = [dict(p) for p in parents]
        self.pairings: dict[str, str] = {}  # helper id -> since (ISO date)
        self.status = "active"

    @classmethod
    def register(cls, profile: dict[str, Any], guardian: dict[str, Any],
                 parents: list[dict[str, Any]], child_id: UUID | None = None) -> "Child":
        """Open a file. The birth date must be in the past."""
        birth = date.fromisoformat(profile["birth_date"])
        if birth > utcnow().date():
            raise InvalidFact("birth_date", "is in the future")
        return cls._create(cls.Registered, id=child_id or uuid4(), **meta(None),
                           profile=profile, guardian=guardian, parents=parents)

    # --- rules shared by every command -------------------------------------------------

    @property
    def birth_date(self) -> date:
        return date.fromisoformat(self.profile["birth_date"])

    @property
    def is_closed(self) -> bool:
        return self.status == "closed"

    def _open_meta(self, occurred_at: datetime | None = None) -> dict[str, Any]:
        """A closed case takes no new fact but a status change."""
        if self.is_closed:
            raise ConflictingState("the case is closed; only a status change may be recorded")
        if occurred_at is not None:
            check_occurred_at(occurred_at, self.birth_date, utcnow())
        return meta(occurred_at)

    # --- who cares for the child -----------------------------------------------------

    class GuardianReplaced(Event):
        guardian: dict[str, Any]

        def apply(self, child: "Child") -> None:
            child.guardian = dict(self.guardian)

    def replace_guardian(self, guardian: dict[str, Any]) -> None:
        self.trigger_event(self.GuardianReplaced, **self._open_meta(), guardian=guardian)

    class ParentsReplaced(Event):
        parents: list[dict[str, Any]]

        def apply(self, child: "Child") -> None:
            child.parents = [dict(p) for p in self.parents]

    def replace_parents(self, parents: list[dict[str, Any]]) -> None:
        self.trigger_event(self.ParentsReplaced, **self._open_meta(), parents=parents)

    class EnrollmentChanged(Event):
        school: str
        grade: str
        class_name: str

        def apply(self, child: "Child") -> None:
            child.profile.update(school=self.school, grade=self.grade, class_name=self.class_name)

    def change_enrollment(self, school: str, grade: str, class_name: str) -> None:
        self.trigger_event(self.EnrollmentChanged, **self._open_meta(),
                           school=school, grade=grade, class_name=class_name)

    class HelperPaired(Event):
        helper_id: str
        since: str

        def apply(self, child: "Child") -> None:
            child.pairings[self.helper_id] = self.since

    def pair_helper(self, helper_id: str, since: date) -> None:
        """结对帮扶: a helper may be paired with the child only once at a time."""
        if helper_id in self.pairings:
            raise ConflictingState("this helper is already paired with the child")
        if since < self.birth_date:
            raise InvalidFact("since", "is before the child's birth date")
        self.trigger_event(self.HelperPaired, **self._open_meta(),
                           helper_id=helper_id, since=since.isoformat())

    class HelperUnpaired(Event):
        helper_id: str
        until: str
        reason: str

        def apply(self, child: "Child") -> None:
            child.pairings.pop(self.helper_id, None)

    def end_pairing(self, helper_id: str, until: date, reason: str) -> None:
        since = self.pairings.get(helper_id)
        if since is None:
            raise ConflictingState("this helper is not paired with the child")
        if until < date.fromisoformat(since):
            raise InvalidFact("until", "is before the pairing began")
        self.trigger_event(self.HelperUnpaired, **self._open_meta(),
                           helper_id=helper_id, until=until.isoformat(), reason=reason)

    # --- what happens to the child ----------------------------------------------------

    class VisitRecorded(Event):
        kind: str
        findings: str
        needs_followup: bool
        contacts_confirmed: list[str]

    def record_visit(self, occurred_at: datetime, kind: str, findings: str,
                     needs_followup: bool, contacts_confirmed: list[str]) -> None:
        self.trigger_event(self.VisitRecorded, **self._open_meta(occurred_at), kind=kind,
                           findings=findings, needs_followup=needs_followup,
                           contacts_confirmed=contacts_confirmed)

    class CounsellingRecorded(Event):
        topic: str
        risk_level: str
        notes: str  # restricted: counsellors and the township supervisor only

    def record_counselling(self, occurred_at: datetime, topic: str, risk_level: str,
                           notes: str) -> None:
        self.trigger_event(self.CounsellingRecorded, **self._open_meta(occurred_at),
                           topic=topic, risk_level=risk_level, notes=notes)

    class ParentFeedbackGiven(Event):
        channel: str
        summary: str

    def record_parent_feedback(self, occurred_at: datetime, channel: str, summary: str) -> None:
        self.trigger_event(self.ParentFeedbackGiven, **self._open_meta(occurred_at),
                           channel=channel, summary=summary)

    class ExamResultRecorded(Event):
        school_year: int
        semester: int
        total_score: float
        class_rank: int
        class_size: int
        school: str
        class_name: str

    def record_exam_result(self, school_year: int, semester: int, total_score: float,
                           class_rank: int, class_size: int) -> None:
        if semester not in (1, 2):
            raise InvalidFact("semester", "must be 1 or 2")
        if not 1 <= class_rank <= class_size:
            raise InvalidFact("class_rank", f"must be between 1 and the class size {class_size}")
        if school_year < self.birth_date.year:
            raise InvalidFact("school_year", "is before the child's birth")
        # The class is copied in: assessments need the class the rank was earned in.
        self.trigger_event(self.ExamResultRecorded, **self._open_meta(), school_year=school_year,
                           semester=semester, total_score=total_score, class_rank=class_rank,
                           class_size=class_size, school=self.profile["school"],
                           class_name=self.profile["class_name"])

    class ConductViolationRecorded(Event):
        severity: str
        description: str

    def record_violation(self, occurred_at: datetime, severity: str, description: str) -> None:
        self.trigger_event(self.ConductViolationRecorded, **self._open_meta(occurred_at),
                           severity=severity, description=description)

    class HonourAwarded(Event):
        school_year: int
        title: str

    def award_honour(self, school_year: int, title: str) -> None:
        if school_year < self.birth_date.year:
            raise InvalidFact("school_year", "is before the child's birth")
        self.trigger_event(self.HonourAwarded, **self._open_meta(),
                           school_year=school_year, title=title)

    class StatusChanged(Event):
        status: str
        reason: str

        def apply(self, child: "Child") -> None:
            child.status = self.status

    def change_status(self, status: str, reason: str) -> None:
        """The one fact a closed case still accepts: it may be reopened."""
        if status == self.status:
            raise ConflictingState(f"the case is already {status}")
        self.trigger_event(self.StatusChanged, **meta(None), status=status, reason=reason)
