"""The Child aggregate: one file per child (一人一档), every fact an immutable event."""

from datetime import date, datetime
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.errors import ConflictingState, InvalidFact
from domain.recorded import RecordedEvent, meta
from domain.values import check_occurred_at, utcnow


class MergedFile(ConflictingState):
    """409: the file was merged into another; the answer names the surviving file."""

    def __init__(self, survivor_id: str) -> None:
        super().__init__(f"this file was merged into {survivor_id}; record facts there")
        self.details = {"merged_into": survivor_id}


class Child(Aggregate):
    """A left-behind child's case file. Public methods decide; nested events record."""

    # Class-level defaults: snapshots taken before merging existed lack these attributes.
    merged_into: str | None = None
    absorbed: tuple[str, ...] | list[str] = ()  # replaced, never mutated in place

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
    def place(self) -> dict[str, Any]:
        """Where the child is and who is paired: what decides who may act on the file."""
        return {**self.profile, "pairings": list(self.pairings)}

    @property
    def is_closed(self) -> bool:
        return self.status in ("closed", "erased")

    def _refuse_if_merged(self) -> None:
        """A merged file takes nothing more: every fact belongs to the surviving file."""
        if self.merged_into is not None:
            raise MergedFile(self.merged_into)

    def _open_meta(self, occurred_at: datetime | None = None) -> dict[str, Any]:
        """A closed case takes no new fact but a status change."""
        self._refuse_if_merged()
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
        self._refuse_if_merged()
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
        self._refuse_if_merged()
        since = self.pairings.get(helper_id)
        if since is None:
            raise ConflictingState("this helper is not paired with the child")
        if until < date.fromisoformat(since):
            raise InvalidFact("until", "is before the pairing began")
        self.trigger_event(self.HelperUnpaired, **self._open_meta(),
                           helper_id=helper_id, until=until.isoformat(), reason=reason)

    # --- what happens to the child ----------------------------------------------------

    class VisitRecorded(Event):
        """Version 2 added child_seen: did the visitor see the child in person (见到儿童本人)."""

        class_version = 2
        kind: str
        findings: str
        needs_followup: bool
        contacts_confirmed: list[str]
        child_seen: bool | None  # None: not stated, as on every visit stored before version 2

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            # A version-1 visit never asked; saying "not stated" invents nothing.
            state["child_seen"] = None

    def record_visit(self, occurred_at: datetime, kind: str, findings: str,
                     needs_followup: bool, contacts_confirmed: list[str],
                     child_seen: bool | None = None) -> None:
        self.trigger_event(self.VisitRecorded, **self._open_meta(occurred_at), kind=kind,
                           findings=findings, needs_followup=needs_followup,
                           contacts_confirmed=contacts_confirmed, child_seen=child_seen)

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
        """The one fact a closed case still accepts: it may be reopened. A merged one may not."""
        self._refuse_if_merged()
        self._refuse_if_erased()
        if status == self.status:
            raise ConflictingState(f"the case is already {status}")
        self.trigger_event(self.StatusChanged, **meta(None), status=status, reason=reason)

    # --- duplicates merged (合并重复档案) ------------------------------------------------

    class MergedInto(Event):
        survivor_id: str
        reason: str

        def apply(self, child: "Child") -> None:
            child.status = "merged"
            child.merged_into = self.survivor_id

    def merge_into(self, survivor_id: UUID, reason: str) -> dict[str, str]:
        """This file duplicates the survivor's: its pairings end and it closes for good; its
        events stay in its own history. Answers the pairings the survivor is to take over."""
        self._refuse_if_merged()
        if survivor_id == self.id:
            raise InvalidFact("into", "is the file being merged; name another child")
        moved = dict(self.pairings)
        today = utcnow().date().isoformat()
        for helper_id, since in moved.items():
            self.trigger_event(self.HelperUnpaired, **meta(None), helper_id=helper_id,
                               until=max(today, since), reason=f"merged into {survivor_id}")
        self.trigger_event(self.MergedInto, **meta(None), survivor_id=str(survivor_id),
                           reason=reason)
        return moved

    class Merged(Event):
        absorbed_id: str
        absorbed_ids: list[str]  # the absorbed file and every file it had absorbed before
        reason: str

        def apply(self, child: "Child") -> None:
            child.absorbed = [*child.absorbed, *self.absorbed_ids]

    def absorb(self, absorbed: "Child", pairings: dict[str, str], reason: str) -> None:
        """The surviving file takes the absorbed file's helpers and, in every view, its
        history (the Merged event names the files whose timelines now show here)."""
        self._refuse_if_merged()
        for helper_id, since in pairings.items():
            if helper_id not in self.pairings:
                self.trigger_event(self.HelperPaired, **meta(None), helper_id=helper_id,
                                   since=since)
        self.trigger_event(self.Merged, **meta(None), absorbed_id=str(absorbed.id),
                           absorbed_ids=[str(absorbed.id), *absorbed.absorbed], reason=reason)

    # --- erasure (crypto-shredding, issue 3) -------------------------------------------

    class Erased(Event):
        """The child's personal data is erased: every key that sealed it is destroyed.
        The reason is kept in clear, for the auditors; it must name no personal data."""

        reason: str

        def apply(self, child: "Child") -> None:
            child.status = "erased"

    def _refuse_if_erased(self) -> None:
        if self.status == "erased":
            raise ConflictingState("this child's personal data was erased; the file is closed "
                                   "for good")

    def erase(self, reason: str) -> None:
        """Only a closed or merged case is erased: an open one is still someone's work."""
        self._refuse_if_erased()
        if self.status not in ("closed", "merged"):
            raise ConflictingState("close the case before erasing it")
        self.trigger_event(self.Erased, **meta(None), reason=reason)
