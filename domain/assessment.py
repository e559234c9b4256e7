"""Assessment scoring (考核), seed section 六: pure functions from recorded facts to points and fen.

No I/O here: the projection gathers the facts, these functions decide the figures, and every
line carries the ids of the events it came from so an auditor can trace each point and fen.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

RANK_RISE = "rank_rise"
TOP5_KEPT = "top5_kept"
NO_SERIOUS_VIOLATION = "no_serious_violation"
MERIT_STUDENT = "merit_student"

RANK_FIRST = "rank_first"
RANK_TOP5 = "rank_top5"
PROGRESS = "progress"


@dataclass(frozen=True)
class Scheme:
    """The seed's scoring rules as numbers; changing any of them means a new `version`."""

    version: str = "seed-2025"
    points_per_place: int = 10
    top5_bonus: int = 10
    top5_threshold: int = 5
    no_serious_violation_bonus: int = 20
    merit_student_bonus: int = 10
    merit_title: str = "merit_student"  # 三好学生
    fen_per_point: int = 100  # one yuan per point (考核分是多少就奖多少元)
    rank_first_award_fen: int = 10000
    rank_top5_award_fen: int = 3000  # ranks 2..5, 优秀奖
    progress_award_fen: int = 1500  # 进步奖
    progress_min_places: int = 5


DEFAULT_SCHEME = Scheme()


# --- the facts scoring reads --------------------------------------------------------------


@dataclass(frozen=True)
class ExamResult:
    """A class rank at the end of a semester (1 ends in January, 2 in July) of a school year."""

    event_id: str
    child_id: str
    school_year: int  # 2025 is the year September 2025 to July 2026
    semester: int
    class_rank: int
    class_size: int
    school: str
    class_name: str


@dataclass(frozen=True)
class Violation:
    """A conduct violation; only `serious` (严重违纪违法) costs the bonus."""

    event_id: str
    child_id: str
    school_year: int
    severity: str  # "minor" or "serious"


@dataclass(frozen=True)
class Honour:
    """An honour of a school year, e.g. the Merit Student title."""

    event_id: str
    child_id: str
    school_year: int
    title: str


@dataclass(frozen=True)
class Pairing:
    """A helper paired with a child (结对帮扶) from `since` until, not including, `until`."""

    event_id: str
    child_id: str
    helper_id: str
    since: date
    until: date | None = None

    def active_on(self, day: date) -> bool:
        """True when the pairing holds on `day`."""
        return self.since <= day and (self.until is None or day < self.until)


# --- the figures --------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One rule applied to one child: its points and the events they came from."""

    rule: str
    points: int
    event_ids: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class ChildScore:
    """A child's points for a school year; `reason` is set when the child earns nothing."""

    child_id: str
    school_year: int
    points: int
    lines: tuple[Line, ...]
    reason: str | None
    semester2_event_id: str | None
    school: str | None
    class_name: str | None


@dataclass(frozen=True)
class Award:
    """One student award: its kind, amount and the exam results behind it."""

    kind: str
    amount_fen: int
    event_ids: tuple[str, ...]


@dataclass(frozen=True)
class StudentAward:
    """Every award a child receives for a school year, and their total."""

    child_id: str
    awards: tuple[Award, ...]
    total_fen: int


@dataclass(frozen=True)
class PairedChild:
    """A child whose points count for a volunteer, and the pairing that made it so."""

    child_id: str
    points: int
    pairing_event_id: str


@dataclass(frozen=True)
class VolunteerScore:
    """A volunteer's points: the sum of their paired children's points."""

    helper_id: str
    points: int
    children: tuple[PairedChild, ...]


@dataclass(frozen=True)
class ClassScore:
    """A class teacher's points: the mean of the class's registered children, two decimals."""

    school: str
    class_name: str
    mean: Decimal
    count: int
    child_ids: tuple[str, ...]


ClassKey = tuple[str, str]  # (school, class_name)
Results = dict[tuple[int, int], ExamResult]  # (school_year, semester) -> the counting result


# --- scoring ------------------------------------------------------------------------------


def _counting_results(exams: Iterable[ExamResult]) -> dict[str, Results]:
    """Per child, the result that counts for each (year, semester)."""
    by_child: dict[str, Results] = {}
    for exam in exams:
        # Records come in the order they were recorded: a later one is a correction.
        by_child.setdefault(exam.child_id, {})[(exam.school_year, exam.semester)] = exam
    return by_child


def _baseline(results: Results, school_year: int) -> tuple[ExamResult | None, str]:
    """The baseline result and where it came from, in words."""
    previous = results.get((school_year - 1, 2))
    if previous is not None:
        return previous, f"semester 2 of {school_year - 1}"
    # With no previous year on file this is the first assessed year (初一第一学期期末).
    first = results.get((school_year, 1))
    return first, f"semester 1 of {school_year}"


def _only_child(*records: Iterable[ExamResult | Violation | Honour]) -> str:
    """The one child the records are about; refuses to guess between several."""
    ids = {r.child_id for group in records for r in group}
    if len(ids) != 1:
        raise ValueError(f"pass child_id: the records name {len(ids)} children")
    return ids.pop()


def _rank_lines(
    scheme: Scheme, baseline: ExamResult | None, where: str, s2: ExamResult
) -> tuple[Line, Line]:
    """The rank-rise and top-5 lines, from the baseline and the semester-2 rank."""
    if baseline is None:
        why = f"no baseline rank ({where} missing); semester-2 rank {s2.class_rank}"
        return (Line(RANK_RISE, 0, (s2.event_id,), why), Line(TOP5_KEPT, 0, (s2.event_id,), why))
    ids = (baseline.event_id, s2.event_id)
    before, after = baseline.class_rank, s2.class_rank
    risen = max(0, before - after)  # a fall in rank costs nothing
    rise = Line(
        RANK_RISE,
        risen * scheme.points_per_place,
        ids,
        f"baseline rank {before} ({where}) to semester-2 rank {after}: "
        f"rose {risen} places × {scheme.points_per_place}",
    )
    top = scheme.top5_threshold
    kept = before <= top and after <= top
    top5 = Line(
        TOP5_KEPT,
        scheme.top5_bonus if kept else 0,
        ids,
        f"baseline rank {before} and semester-2 rank {after} "
        f"{'both' if kept else 'not both'} within the top {top}",
    )
    return rise, top5


def _violation_line(scheme: Scheme, school_year: int, violations: list[Violation]) -> Line:
    """The bonus for no serious violation, or no bonus and the violations that cost it."""
    serious = tuple(v.event_id for v in violations if v.severity == "serious")
    if serious:
        return Line(
            NO_SERIOUS_VIOLATION,
            0,
            serious,
            f"{len(serious)} serious violation(s) recorded in {school_year}",
        )
    # The absence of an event is the evidence here, so there is no id to cite.
    return Line(
        NO_SERIOUS_VIOLATION,
        scheme.no_serious_violation_bonus,
        (),
        f"no serious violation recorded in {school_year}",
    )


def _merit_line(scheme: Scheme, school_year: int, honours: list[Honour]) -> Line:
    """The Merit Student bonus when the title of that year is on file."""
    merit = tuple(h.event_id for h in honours if h.title == scheme.merit_title)
    if merit:
        return Line(
            MERIT_STUDENT,
            scheme.merit_student_bonus,
            merit,
            f"Merit Student (三好学生) of {school_year}",
        )
    return Line(MERIT_STUDENT, 0, (), f"no Merit Student title recorded for {school_year}")


def score_child(
    scheme: Scheme,
    school_year: int,
    exams: Iterable[ExamResult],
    violations: Iterable[Violation],
    honours: Iterable[Honour],
    *,
    child_id: str | None = None,
) -> ChildScore:
    """Score one child for a school year; records of other children and years are ignored.

    Without `child_id` the records must all name the same child. Exams in recorded order.
    """
    exams, violations, honours = tuple(exams), tuple(violations), tuple(honours)
    child = child_id if child_id is not None else _only_child(exams, violations, honours)
    results = _counting_results(exams).get(child, {})
    s2 = results.get((school_year, 2))
    if s2 is None:
        why = f"no semester-2 result for {school_year} (无第二学期期末成绩): no points this year"
        return ChildScore(child, school_year, 0, (), why, None, None, None)
    baseline, where = _baseline(results, school_year)
    mine = [v for v in violations if v.child_id == child and v.school_year == school_year]
    titles = [h for h in honours if h.child_id == child and h.school_year == school_year]
    lines = (
        *_rank_lines(scheme, baseline, where, s2),
        _violation_line(scheme, school_year, mine),
        _merit_line(scheme, school_year, titles),
    )
    points = sum(line.points for line in lines)
    return ChildScore(
        child, school_year, points, lines, None, s2.event_id, s2.school, s2.class_name
    )


# --- student awards -----------------------------------------------------------------------


def _awards_of(scheme: Scheme, school_year: int, results: Results) -> tuple[Award, ...]:
    """A child's awards for the year, by the semester-2 result."""
    s2 = results.get((school_year, 2))
    if s2 is None:
        return ()
    awards: list[Award] = []
    if s2.class_rank == 1:
        awards.append(Award(RANK_FIRST, scheme.rank_first_award_fen, (s2.event_id,)))
    elif s2.class_rank <= scheme.top5_threshold:  # ranks 2..5
        awards.append(Award(RANK_TOP5, scheme.rank_top5_award_fen, (s2.event_id,)))
    s1 = results.get((school_year, 1))  # progress compares within the same year
    if s1 is not None and s1.class_rank - s2.class_rank >= scheme.progress_min_places:
        awards.append(Award(PROGRESS, scheme.progress_award_fen, (s1.event_id, s2.event_id)))
    return tuple(awards)


def student_awards(
    scheme: Scheme, school_year: int, exams: Iterable[ExamResult]
) -> list[StudentAward]:
    """Every child with at least one award for the year, by child id; exams in recorded order."""
    result: list[StudentAward] = []
    for child_id, results in sorted(_counting_results(exams).items()):
        awards = _awards_of(scheme, school_year, results)
        if awards:
            result.append(StudentAward(child_id, awards, sum(a.amount_fen for a in awards)))
    return result


# --- assessees ----------------------------------------------------------------------------


def _recency(pairing: Pairing) -> tuple[date, str]:
    """Orders pairings by start date, then event id, so the choice never depends on input order."""
    return pairing.since, pairing.event_id


def volunteer_points(
    child_scores: Iterable[ChildScore], pairings: Iterable[Pairing], s2_dates: Mapping[str, date]
) -> dict[str, VolunteerScore]:
    """Per helper, the points of the children paired with them on each child's semester-2 date.

    Pass only volunteers' pairings; a helper with no such child is absent from the result.
    """
    scores = {s.child_id: s for s in child_scores if s.semester2_event_id is not None}
    chosen: dict[tuple[str, str], Pairing] = {}
    for pairing in pairings:
        day = s2_dates.get(pairing.child_id)
        if pairing.child_id not in scores or day is None or not pairing.active_on(day):
            continue
        key = (pairing.helper_id, pairing.child_id)
        # Overlapping records of one pairing count the child once; the latest wins in any order.
        if key not in chosen or _recency(pairing) > _recency(chosen[key]):
            chosen[key] = pairing
    by_helper: dict[str, list[PairedChild]] = {}
    for (helper_id, child_id), pairing in sorted(chosen.items()):
        paired = PairedChild(child_id, scores[child_id].points, pairing.event_id)
        by_helper.setdefault(helper_id, []).append(paired)
    return {
        helper_id: VolunteerScore(helper_id, sum(c.points for c in children), tuple(children))
        for helper_id, children in by_helper.items()
    }


def class_teacher_points(child_scores: Iterable[ChildScore]) -> dict[ClassKey, ClassScore]:
    """Per (school, class_name) of the semester-2 result, the mean points of its children.

    Pass only registered children. A child with no semester-2 result is in no class mean.
    """
    members: dict[ClassKey, dict[str, int]] = {}
    for score in child_scores:
        if score.semester2_event_id is None or score.school is None or score.class_name is None:
            continue
        members.setdefault((score.school, score.class_name), {})[score.child_id] = score.points
    return {key: _class_score(key, points) for key, points in sorted(members.items())}


def _class_score(key: ClassKey, points: dict[str, int]) -> ClassScore:
    """The mean of a class's points, rounded half up to two decimals."""
    mean = (Decimal(sum(points.values())) / Decimal(len(points))).quantize(
        Decimal("0.01"), rounding=ROUND_HALF_UP
    )
    return ClassScore(key[0], key[1], mean, len(points), tuple(sorted(points)))


def award_fen(scheme: Scheme, points: int | Decimal) -> int:
    """An assessee's award in fen: one yuan per point, a mean rounded half up to whole fen."""
    fen = Decimal(points) * scheme.fen_per_point
    return int(fen.quantize(Decimal(1), rounding=ROUND_HALF_UP))
