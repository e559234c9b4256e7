"""The assessment rules of docs/DOMAIN.md §7, on the pure scoring functions."""

import random
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.assessment import (
    DEFAULT_SCHEME,
    ChildScore,
    ExamResult,
    Honour,
    Pairing,
    Violation,
    award_fen,
    class_teacher_points,
    score_child,
    student_awards,
    volunteer_points,
)

YEAR = 2025
S2_DAY = date(2026, 7, 10)  # semester 2 of 2025 ends in July 2026
SCHOOL = "城关一中"
CLASS = "初一(2)班"


def exam(
    event_id: str,
    child_id: str,
    semester: int,
    rank: int,
    year: int = YEAR,
    class_name: str = CLASS,
) -> ExamResult:
    """An exam result in the one class of the worked example unless told otherwise."""
    return ExamResult(event_id, child_id, year, semester, rank, 45, SCHOOL, class_name)


def merit(event_id: str, child_id: str, year: int = YEAR) -> Honour:
    return Honour(event_id, child_id, year, "merit_student")


def serious(event_id: str, child_id: str, year: int = YEAR) -> Violation:
    return Violation(event_id, child_id, year, "serious")


def rules(score: ChildScore) -> dict[str, int]:
    """The points of each line, by rule."""
    return {line.rule: line.points for line in score.lines}


def line(score: ChildScore, rule: str) -> tuple[int, tuple[str, ...], str]:
    found = [ln for ln in score.lines if ln.rule == rule]
    assert len(found) == 1
    return found[0].points, found[0].event_ids, found[0].reason


# --- a worked example of docs/DOMAIN.md §7 ------------------------------------------------------

EXAMS = [
    exam("a1", "A", 1, 12),
    exam("a2", "A", 2, 4),
    exam("b1", "B", 1, 3),
    exam("b2", "B", 2, 2),
]
VIOLATIONS = [serious("bv", "B")]
HONOURS = [merit("am", "A")]
PAIRINGS = [
    Pairing("pa", "A", "vol", date(2025, 9, 1)),
    Pairing("pb", "B", "vol", date(2025, 9, 1)),
]


def worked_scores() -> list[ChildScore]:
    return [
        score_child(DEFAULT_SCHEME, YEAR, EXAMS, VIOLATIONS, HONOURS, child_id=c)
        for c in ("A", "B")
    ]


def test_worked_example_child_a_scores_110_with_traceable_lines() -> None:
    a = worked_scores()[0]
    assert a.points == 110
    assert rules(a) == {
        "rank_rise": 80,
        "top5_kept": 0,
        "no_serious_violation": 20,
        "merit_student": 10,
    }
    assert line(a, "rank_rise")[1] == ("a1", "a2")
    assert line(a, "no_serious_violation")[1] == ()
    assert "no serious violation" in line(a, "no_serious_violation")[2]
    assert line(a, "merit_student")[1] == ("am",)
    assert (a.reason, a.semester2_event_id, a.school, a.class_name) == (None, "a2", SCHOOL, CLASS)


def test_worked_example_child_b_scores_20_and_the_violation_is_cited() -> None:
    b = worked_scores()[1]
    assert b.points == 20
    assert rules(b) == {
        "rank_rise": 10,
        "top5_kept": 10,
        "no_serious_violation": 0,
        "merit_student": 0,
    }
    assert line(b, "top5_kept")[1] == ("b1", "b2")
    assert line(b, "no_serious_violation")[1] == ("bv",)


def test_worked_example_student_awards_are_45_and_30_yuan() -> None:
    awards = {s.child_id: s for s in student_awards(DEFAULT_SCHEME, YEAR, EXAMS)}
    a, b = awards["A"], awards["B"]
    assert [(x.kind, x.amount_fen, x.event_ids) for x in a.awards] == [
        ("rank_top5", 3000, ("a2",)),
        ("progress", 1500, ("a1", "a2")),
    ]
    assert a.total_fen == 4500
    assert [(x.kind, x.amount_fen) for x in b.awards] == [("rank_top5", 3000)]
    assert b.total_fen == 3000


def test_worked_example_volunteer_scores_130_points_and_13000_fen() -> None:
    result = volunteer_points(worked_scores(), PAIRINGS, {"A": S2_DAY, "B": S2_DAY})
    vol = result["vol"]
    assert vol.points == 130
    assert award_fen(DEFAULT_SCHEME, vol.points) == 13000
    assert [(c.child_id, c.points, c.pairing_event_id) for c in vol.children] == [
        ("A", 110, "pa"),
        ("B", 20, "pb"),
    ]


def test_worked_example_class_teacher_scores_the_mean_65() -> None:
    result = class_teacher_points(worked_scores())
    cls = result[(SCHOOL, CLASS)]
    assert (cls.mean, cls.count, cls.child_ids) == (Decimal("65.00"), 2, ("A", "B"))
    assert award_fen(DEFAULT_SCHEME, cls.mean) == 6500


# --- further cases ------------------------------------------------------------------------


def test_tied_ranks_score_each_child_alike_and_both_get_rank_first() -> None:
    exams = [
        exam("x1", "X", 1, 1),
        exam("x2", "X", 2, 1),
        exam("y1", "Y", 1, 1),
        exam("y2", "Y", 2, 1),
    ]
    x, y = (score_child(DEFAULT_SCHEME, YEAR, exams, [], [], child_id=c) for c in "XY")
    assert (
        rules(x)
        == rules(y)
        == {"rank_rise": 0, "top5_kept": 10, "no_serious_violation": 20, "merit_student": 0}
    )
    awards = student_awards(DEFAULT_SCHEME, YEAR, exams)
    assert [(s.child_id, s.total_fen) for s in awards] == [("X", 10000), ("Y", 10000)]


def test_child_who_changes_class_counts_in_the_semester_2_class() -> None:
    exams = [
        exam("m1", "M", 1, 10, class_name="初一(1)班"),
        exam("m2", "M", 2, 8),
        exam("n1", "N", 1, 5, class_name="初一(1)班"),
        exam("n2", "N", 2, 5, class_name="初一(1)班"),
    ]
    scores = [score_child(DEFAULT_SCHEME, YEAR, exams, [], [], child_id=c) for c in "MN"]
    classes = class_teacher_points(scores)
    assert classes[(SCHOOL, CLASS)].child_ids == ("M",)
    assert classes[(SCHOOL, "初一(1)班")].child_ids == ("N",)
    assert classes[(SCHOOL, CLASS)].mean == Decimal("40.00")  # rose 2 places, no violation


def test_only_the_volunteer_paired_at_the_semester_2_date_gets_the_points() -> None:
    score = score_child(DEFAULT_SCHEME, YEAR, EXAMS, [], HONOURS, child_id="A")
    pairings = [
        Pairing("p1", "A", "first", date(2025, 9, 1), date(2026, 3, 1)),
        Pairing("p2", "A", "second", date(2026, 3, 1), None),
    ]
    result = volunteer_points([score], pairings, {"A": S2_DAY})
    assert list(result) == ["second"]
    assert result["second"].points == 110


def test_a_pairing_ending_on_the_semester_2_date_no_longer_counts() -> None:
    score = score_child(DEFAULT_SCHEME, YEAR, EXAMS, [], HONOURS, child_id="A")
    pairings = [Pairing("p1", "A", "first", date(2025, 9, 1), S2_DAY)]
    assert volunteer_points([score], pairings, {"A": S2_DAY}) == {}


def test_second_year_baseline_is_the_first_years_semester_2_rank() -> None:
    exams = [
        exam("c1", "C", 1, 20),
        exam("c2", "C", 2, 10),
        exam("c3", "C", 1, 3, year=2026),
        exam("c4", "C", 2, 6, year=2026),
    ]
    score = score_child(DEFAULT_SCHEME, 2026, exams, [], [], child_id="C")
    points, ids, reason = line(score, "rank_rise")
    assert (points, ids) == (40, ("c2", "c4"))
    assert "semester 2 of 2025" in reason
    assert student_awards(DEFAULT_SCHEME, 2026, exams) == []  # fell 3 places within 2026


def test_a_fall_in_rank_gives_zero_never_negative() -> None:
    exams = [exam("d1", "D", 1, 3), exam("d2", "D", 2, 9)]
    score = score_child(DEFAULT_SCHEME, YEAR, exams, [], [])
    assert rules(score)["rank_rise"] == 0
    assert rules(score)["top5_kept"] == 0
    assert score.points == 20


def test_rank_first_and_progress_awards_are_received_together() -> None:
    exams = [exam("e1", "E", 1, 9), exam("e2", "E", 2, 1)]
    (awarded,) = student_awards(DEFAULT_SCHEME, YEAR, exams)
    assert [(a.kind, a.amount_fen) for a in awarded.awards] == [
        ("rank_first", 10000),
        ("progress", 1500),
    ]
    assert awarded.total_fen == 11500


def test_progress_of_four_places_is_not_enough() -> None:
    exams = [exam("f1", "F", 1, 14), exam("f2", "F", 2, 10)]
    assert student_awards(DEFAULT_SCHEME, YEAR, exams) == []


def test_missing_semester_2_result_earns_nothing_and_says_why() -> None:
    exams = [exam("g1", "G", 1, 2)]
    score = score_child(DEFAULT_SCHEME, YEAR, exams, [], [merit("gm", "G")])
    assert (score.points, score.lines, score.semester2_event_id) == (0, (), None)
    assert score.reason is not None and "no semester-2 result for 2025" in score.reason
    assert class_teacher_points([score]) == {}
    assert (
        volunteer_points([score], [Pairing("p", "G", "v", date(2025, 9, 1))], {"G": S2_DAY}) == {}
    )
    assert student_awards(DEFAULT_SCHEME, YEAR, exams) == []


def test_missing_baseline_scores_no_rank_points_but_the_other_rules_apply() -> None:
    exams = [exam("h2", "H", 2, 1)]
    score = score_child(DEFAULT_SCHEME, YEAR, exams, [], [merit("hm", "H")])
    assert rules(score) == {
        "rank_rise": 0,
        "top5_kept": 0,
        "no_serious_violation": 20,
        "merit_student": 10,
    }
    assert line(score, "rank_rise")[:2] == (0, ("h2",))
    assert "no baseline" in line(score, "rank_rise")[2]
    assert "no baseline" in line(score, "top5_kept")[2]
    assert score.reason is None and score.points == 30


def test_a_later_corrected_exam_result_wins() -> None:
    exams = [exam("k1", "K", 1, 12), exam("k2", "K", 2, 11), exam("k2-fix", "K", 2, 4)]
    score = score_child(DEFAULT_SCHEME, YEAR, exams, [], [])
    assert score.semester2_event_id == "k2-fix"
    assert line(score, "rank_rise")[:2] == (80, ("k1", "k2-fix"))
    (awarded,) = student_awards(DEFAULT_SCHEME, YEAR, exams)
    assert awarded.total_fen == 4500


def test_minor_violations_and_other_years_do_not_cost_the_bonus() -> None:
    violations = [
        Violation("v1", "A", YEAR, "minor"),
        serious("v2", "A", YEAR - 1),
        serious("v3", "B", YEAR),
    ]
    score = score_child(DEFAULT_SCHEME, YEAR, EXAMS, violations, [], child_id="A")
    assert line(score, "no_serious_violation")[:2] == (20, ())


def test_records_of_several_children_need_a_child_id() -> None:
    with pytest.raises(ValueError):
        score_child(DEFAULT_SCHEME, YEAR, EXAMS, [], [])


def test_class_mean_rounds_half_up_to_two_decimals() -> None:
    scores = [
        ChildScore(f"c{i}", YEAR, 1 if i == 0 else 0, (), None, f"e{i}", SCHOOL, CLASS)
        for i in range(8)
    ]
    mean = class_teacher_points(scores)[(SCHOOL, CLASS)].mean
    assert mean == Decimal("0.13")  # 1/8 = 0.125
    assert award_fen(DEFAULT_SCHEME, Decimal("0.125")) == 13  # 12.5 fen rounds up


# --- properties ---------------------------------------------------------------------------

HELPERS = ("h0", "h1", "h2", "h3")


@st.composite
def cohorts(
    draw: st.DrawFn,
) -> tuple[list[ExamResult], list[Violation], list[Honour], list[Pairing], dict[str, date]]:
    """Random children: ranks (some missing or corrected), conduct, pairings in turn."""
    exams: list[ExamResult] = []
    violations: list[Violation] = []
    honours: list[Honour] = []
    pairings: list[Pairing] = []
    s2_dates: dict[str, date] = {}
    rank = st.integers(1, 45)
    for n in range(draw(st.integers(1, 8))):
        child = f"c{n}"
        for year, semester in draw(
            st.lists(st.sampled_from([(YEAR - 1, 2), (YEAR, 1), (YEAR, 2), (YEAR, 2)]), max_size=4)
        ):
            exams.append(
                exam(
                    f"{child}-x{len(exams)}",
                    child,
                    semester,
                    draw(rank),
                    year=year,
                    class_name=draw(st.sampled_from([CLASS, "初一(1)班"])),
                )
            )
        if draw(st.booleans()):
            violations.append(
                Violation(f"{child}-v", child, YEAR, draw(st.sampled_from(["minor", "serious"])))
            )
        if draw(st.booleans()):
            honours.append(merit(f"{child}-m", child))
        s2_dates[child] = date(2026, 7, 1) + timedelta(days=draw(st.integers(0, 20)))
        start = date(2025, 9, 1) + timedelta(days=draw(st.integers(0, 400)))
        for turn in range(draw(st.integers(0, 3))):  # one volunteer after another
            end = start + timedelta(days=draw(st.integers(1, 200)))
            pairings.append(
                Pairing(f"{child}-p{turn}", child, draw(st.sampled_from(HELPERS)), start, end)
            )
            start = end + timedelta(days=draw(st.integers(0, 30)))
    return exams, violations, honours, pairings, s2_dates


def score_all(
    exams: Sequence[ExamResult], violations: Sequence[Violation], honours: Sequence[Honour]
) -> list[ChildScore]:
    children = sorted({e.child_id for e in exams})
    return [
        score_child(DEFAULT_SCHEME, YEAR, exams, violations, honours, child_id=c) for c in children
    ]


def interleave(records: Sequence[ExamResult], rnd: random.Random) -> list[ExamResult]:
    """Shuffle records across children, keeping each child's own order (its corrections)."""
    queues: dict[str, list[ExamResult]] = {}
    for record in records:
        queues.setdefault(record.child_id, []).append(record)
    out: list[ExamResult] = []
    while queues:
        child = rnd.choice(sorted(queues))
        out.append(queues[child].pop(0))
        if not queues[child]:
            del queues[child]
    return out


@settings(max_examples=200, deadline=None)
@given(cohorts())
def test_volunteer_points_add_up_to_the_points_of_children_paired_at_semester_2(
    cohort: tuple[list[ExamResult], list[Violation], list[Honour], list[Pairing], dict[str, date]],
) -> None:
    exams, violations, honours, pairings, s2_dates = cohort
    scores = score_all(exams, violations, honours)
    by_helper = volunteer_points(scores, pairings, s2_dates)
    paired = [
        s
        for s in scores
        if s.semester2_event_id is not None
        and any(p.child_id == s.child_id and p.active_on(s2_dates[s.child_id]) for p in pairings)
    ]
    assert sum(v.points for v in by_helper.values()) == sum(s.points for s in paired)
    assert all(s.points >= 0 and s.points == sum(ln.points for ln in s.lines) for s in scores)


@settings(max_examples=200, deadline=None)
@given(cohorts(), st.randoms(use_true_random=False))
def test_scoring_is_deterministic_and_ignores_the_order_of_unrelated_children(
    cohort: tuple[list[ExamResult], list[Violation], list[Honour], list[Pairing], dict[str, date]],
    rnd: random.Random,
) -> None:
    exams, violations, honours, pairings, s2_dates = cohort

    def everything(ex: Sequence[ExamResult], pa: Sequence[Pairing]) -> tuple[object, ...]:
        scores = score_all(ex, violations, honours)
        return (
            scores,
            student_awards(DEFAULT_SCHEME, YEAR, ex),
            volunteer_points(scores, pa, s2_dates),
            class_teacher_points(scores),
        )

    first = everything(exams, pairings)
    assert everything(exams, pairings) == first
    shuffled_pairings = list(pairings)
    rnd.shuffle(shuffled_pairings)
    assert everything(interleave(exams, rnd), shuffled_pairings) == first


@settings(max_examples=100, deadline=None)
@given(cohorts(), st.lists(st.tuples(st.integers(0, 7), st.sampled_from(HELPERS)), max_size=6))
def test_a_child_with_two_helpers_at_once_counts_for_each(
    cohort: tuple[list[ExamResult], list[Violation], list[Honour], list[Pairing], dict[str, date]],
    extra: list[tuple[int, str]],
) -> None:
    exams, violations, honours, pairings, s2_dates = cohort
    pairings = pairings + [
        Pairing(f"extra{i}", f"c{n}", helper, date(2025, 9, 1))
        for i, (n, helper) in enumerate(extra)
    ]
    scores = score_all(exams, violations, honours)
    by_helper = volunteer_points(scores, pairings, s2_dates)
    expected = sum(
        s.points
        * len(
            {
                p.helper_id
                for p in pairings
                if p.child_id == s.child_id and p.active_on(s2_dates[s.child_id])
            }
        )
        for s in scores
        if s.semester2_event_id is not None
    )
    assert sum(v.points for v in by_helper.values()) == expected
