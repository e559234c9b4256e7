"""The assessment view (考核): the raw facts per event; domain/assessment.py scores at read time.

Only inputs are stored, so a change of scheme or a correction needs no migration: the figures
of a year are recomputed from the facts whenever they are read, and a publication keeps the
figures it froze beside the position it was recorded at, so later corrections show as amendments.
"""

import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from domain import assessment as a
from domain.child import Child
from domain.personal import ERASED
from domain.helper import Helper
from domain.publication import Publication
from projections.batching import apply_in_runs
from projections.view import Cursor, iso

SHANGHAI = ZoneInfo("Asia/Shanghai")


def event_id(event: Any) -> str:
    """The id an audit line cites: the aggregate and its version."""
    return f"{event.originator_id}:{event.originator_version}"


def local_date(value: Any) -> date:
    """The calendar day in Asia/Shanghai, where the schools are."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    return moment.astimezone(SHANGHAI).date()


def school_year_of(occurred_at: Any) -> int:
    """September to December belong to that year's school year, January to August to the last."""
    day = local_date(occurred_at)
    return day.year if day.month >= 9 else day.year - 1


def number(value: int | Decimal) -> int | float:
    """Points as JSON: whole numbers stay integers, a mean keeps its two decimals."""
    return int(value) if value == int(value) else float(value)


@dataclass
class Inputs:
    """Everything scoring needs for one school year, in recorded order."""

    exams: list[a.ExamResult] = field(default_factory=list)
    positions: dict[str, int] = field(default_factory=dict)  # exam event id -> position
    s2_dates: dict[str, date] = field(default_factory=dict)
    violations: list[a.Violation] = field(default_factory=list)
    honours: list[a.Honour] = field(default_factory=list)
    pairings: list[a.Pairing] = field(default_factory=list)
    helpers: dict[str, dict[str, Any]] = field(default_factory=dict)
    active: set[str] = field(default_factory=set)


TABLES = {
    "children": "child_id TEXT PRIMARY KEY, name TEXT, status TEXT NOT NULL",
    "exams": "event_id TEXT PRIMARY KEY, position BIGINT NOT NULL, child_id TEXT NOT NULL, "
             "school_year INTEGER NOT NULL, semester INTEGER NOT NULL, class_rank INTEGER, "
             "class_size INTEGER, school TEXT, class_name TEXT, recorded_at TEXT",
    "violations": "event_id TEXT PRIMARY KEY, position BIGINT NOT NULL, child_id TEXT NOT NULL, "
                  "school_year INTEGER NOT NULL, severity TEXT NOT NULL",
    "honours": "event_id TEXT PRIMARY KEY, position BIGINT NOT NULL, child_id TEXT NOT NULL, "
               "school_year INTEGER NOT NULL, title TEXT NOT NULL",
    "pairings": "event_id TEXT PRIMARY KEY, position BIGINT NOT NULL, child_id TEXT NOT NULL, "
                "helper_id TEXT NOT NULL, since TEXT NOT NULL, until TEXT",
    "helpers": "helper_id TEXT PRIMARY KEY, name TEXT, role TEXT, school TEXT, class_name TEXT",
    "publications": "school_year INTEGER PRIMARY KEY, position BIGINT NOT NULL, "
                    "scheme_version TEXT NOT NULL, figures TEXT NOT NULL",
}


class AssessmentView:
    """Tables assessment_*: one row per fact that scoring reads, and one per publication."""

    name = "assessment"

    def __init__(self, table: Any) -> None:
        self.t = {key: table(f"assessment_{key}") for key in TABLES}
        self._appliers: dict[type, Callable[[Cursor, int, Any], None]] = {
            Child.Registered: self._registered, Child.StatusChanged: self._status,
            Child.ExamResultRecorded: self._exam, Child.ConductViolationRecorded: self._violation,
            Child.HonourAwarded: self._honour, Child.HelperPaired: self._paired,
            Child.HelperUnpaired: self._unpaired, Helper.Registered: self._helper,
            Helper.DetailsChanged: self._helper_changed, Publication.Published: self._published,
        }

    def create_tables(self, cur: Cursor) -> None:
        for key, columns in TABLES.items():
            cur.execute(f"CREATE TABLE IF NOT EXISTS {self.t[key]} ({columns})")

    def reset(self, cur: Cursor) -> None:
        for table in self.t.values():
            cur.execute(f"DELETE FROM {table}")

    def apply_batch(self, cur: Cursor, events: list[tuple[int, Any]]) -> None:
        """The batch's statements of apply, sent in runs (projections/batching.py)."""
        apply_in_runs(self.apply, cur, events)

    def apply(self, cur: Cursor, position: int, event: Any) -> None:
        applier = self._appliers.get(type(event))
        if applier is not None:
            applier(cur, position, event)

    def erase(self, cur: Cursor, child_id: str) -> None:
        """Crypto-shredding (issue 3): the name goes; the counts keep the child."""
        cur.execute(f"UPDATE {self.t['children']} SET name=? WHERE child_id=?",
                    (ERASED, child_id))

    # --- recording the facts ------------------------------------------------------------

    def _insert(self, cur: Cursor, key: str, values: tuple[Any, ...]) -> None:
        marks = ",".join("?" * len(values))
        cur.execute(f"INSERT INTO {self.t[key]} VALUES ({marks}) ON CONFLICT DO NOTHING", values)

    def _registered(self, cur: Cursor, _: int, event: Any) -> None:
        self._insert(cur, "children", (str(event.originator_id), event.profile.get("name"),
                                       "active"))

    def _status(self, cur: Cursor, _: int, event: Any) -> None:
        cur.execute(f"UPDATE {self.t['children']} SET status=? WHERE child_id=?",
                    (event.status, str(event.originator_id)))

    def _exam(self, cur: Cursor, position: int, event: Any) -> None:
        self._insert(cur, "exams", (event_id(event), position, str(event.originator_id),
                                    event.school_year, event.semester, event.class_rank,
                                    event.class_size, event.school, event.class_name,
                                    iso(event.recorded_at)))

    def _violation(self, cur: Cursor, position: int, event: Any) -> None:
        self._insert(cur, "violations", (event_id(event), position, str(event.originator_id),
                                         school_year_of(event.occurred_at), event.severity))

    def _honour(self, cur: Cursor, position: int, event: Any) -> None:
        self._insert(cur, "honours", (event_id(event), position, str(event.originator_id),
                                      event.school_year, event.title))

    def _paired(self, cur: Cursor, position: int, event: Any) -> None:
        self._insert(cur, "pairings", (event_id(event), position, str(event.originator_id),
                                       event.helper_id, event.since, None))

    def _unpaired(self, cur: Cursor, _: int, event: Any) -> None:
        cur.execute(f"UPDATE {self.t['pairings']} SET until=? WHERE child_id=? AND helper_id=? "
                    "AND until IS NULL", (event.until, str(event.originator_id),
                                          event.helper_id))

    def _helper(self, cur: Cursor, _: int, event: Any) -> None:
        d = event.details
        self._insert(cur, "helpers", (str(event.originator_id), d.get("name"), d.get("role"),
                                      d.get("school"), d.get("class_name")))

    def _helper_changed(self, cur: Cursor, _: int, event: Any) -> None:
        # A teacher who moves class teaches the new class from then on: keep the latest details.
        for column in ("name", "role", "school", "class_name"):
            if column in event.details:
                cur.execute(f"UPDATE {self.t['helpers']} SET {column}=? WHERE helper_id=?",
                            (event.details[column], str(event.originator_id)))

    def _published(self, cur: Cursor, position: int, event: Any) -> None:
        self._insert(cur, "publications", (event.school_year, position, event.scheme_version,
                                           json.dumps(event.figures, ensure_ascii=False)))

    # --- reads ------------------------------------------------------------------------

    def inputs(self, cur: Cursor, school_year: int) -> Inputs:
        """The stored facts that can count for the year (the baseline may be last year's)."""
        found = Inputs()
        for r in cur.execute(f"SELECT * FROM {self.t['exams']} WHERE school_year IN (?,?) "
                             "ORDER BY position", (school_year - 1, school_year)).fetchall():
            found.exams.append(a.ExamResult(
                r["event_id"], r["child_id"], r["school_year"], r["semester"], r["class_rank"],
                r["class_size"], r["school"], r["class_name"]))
            found.positions[r["event_id"]] = r["position"]
            if r["school_year"] == school_year and r["semester"] == 2:
                # The first semester-2 record fixes the day: a later correction of the rank
                # must not move the child to whoever is paired on the day of the correction.
                found.s2_dates.setdefault(r["child_id"], local_date(r["recorded_at"]))
        found.violations = [a.Violation(r["event_id"], r["child_id"], r["school_year"],
                                        r["severity"]) for r in self._year(cur, "violations",
                                                                           school_year)]
        found.honours = [a.Honour(r["event_id"], r["child_id"], r["school_year"], r["title"])
                         for r in self._year(cur, "honours", school_year)]
        found.helpers = {r["helper_id"]: r for r in
                         cur.execute(f"SELECT * FROM {self.t['helpers']}").fetchall()}
        found.pairings = [
            a.Pairing(r["event_id"], r["child_id"], r["helper_id"],
                      date.fromisoformat(r["since"]),
                      date.fromisoformat(r["until"]) if r["until"] else None)
            for r in cur.execute(f"SELECT * FROM {self.t['pairings']} ORDER BY position")
            .fetchall()]
        # "Registered children" for a class mean: the files whose status is active when the
        # assessment is read (not as of the end of the year); a publication freezes that choice.
        found.active = {r["child_id"] for r in cur.execute(
            f"SELECT child_id FROM {self.t['children']} WHERE status='active'").fetchall()}
        return found

    def _year(self, cur: Cursor, key: str, school_year: int) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = cur.execute(
            f"SELECT * FROM {self.t[key]} WHERE school_year=? ORDER BY position",
            (school_year,)).fetchall()
        return rows

    def child_names(self, cur: Cursor) -> dict[str, str]:
        """Child id to name, for the export."""
        rows = cur.execute(f"SELECT child_id, name FROM {self.t['children']}").fetchall()
        return {r["child_id"]: r["name"] or "" for r in rows}

    def publication(self, cur: Cursor, school_year: int) -> dict[str, Any] | None:
        """The published figures of the year and the position they were frozen at."""
        row = cur.execute(f"SELECT * FROM {self.t['publications']} WHERE school_year=?",
                          (school_year,)).fetchone()
        if row is None:
            return None
        return {"position": row["position"], "scheme_version": row["scheme_version"],
                "figures": json.loads(row["figures"])}

    def figures(self, cur: Cursor, school_year: int,
                scheme: a.Scheme = a.DEFAULT_SCHEME) -> dict[str, Any]:
        """The year's figures as they stand now, computed from the stored facts."""
        return compute(self.inputs(cur, school_year), school_year, scheme)

    def assessment(self, cur: Cursor, school_year: int) -> dict[str, Any]:
        """The published figures with their amendments, or the live figures if unpublished."""
        inputs = self.inputs(cur, school_year)
        live = compute(inputs, school_year, a.DEFAULT_SCHEME)
        published = self.publication(cur, school_year)
        if published is None:
            return {"school_year": school_year, "scheme_version": a.DEFAULT_SCHEME.version,
                    "published": False, **live, "amendments": []}
        frozen = published["figures"]
        return {"school_year": school_year, "scheme_version": published["scheme_version"],
                "published": True, **frozen,
                "amendments": amendments(frozen, live, inputs, published["position"])}


# --- from facts to figures -------------------------------------------------------------


def compute(inputs: Inputs, school_year: int, scheme: a.Scheme) -> dict[str, Any]:
    """Score every child, then the assessees and the student awards; trails per assessee."""
    by_child: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    for kind in ("exams", "violations", "honours"):
        for record in getattr(inputs, kind):
            by_child[record.child_id][kind].append(record)
    in_year = {e.child_id for e in inputs.exams if e.school_year == school_year}
    scores = {cid: a.score_child(scheme, school_year, by_child[cid]["exams"],
                                 by_child[cid]["violations"], by_child[cid]["honours"],
                                 child_id=cid)
              for cid in sorted(inputs.active | in_year)}
    assessees, trails = _volunteers(inputs, scores, scheme)
    teachers, teacher_trails = _class_teachers(inputs, scores, scheme)
    awards = a.student_awards(scheme, school_year, inputs.exams)
    return {
        "assessees": assessees + teachers,
        "children": [_child(score) for score in scores.values()],
        "student_awards": [{"child_id": s.child_id, "total_fen": s.total_fen,
                            "awards": [{"kind": w.kind, "amount_fen": w.amount_fen,
                                        "event_ids": list(w.event_ids)} for w in s.awards]}
                           for s in awards],
        "trails": {**trails, **teacher_trails},
    }


def _line(line: a.Line, **extra: Any) -> dict[str, Any]:
    return {**extra, "rule": line.rule, "points": line.points,
            "event_ids": list(line.event_ids), "reason": line.reason}


def _child(score: a.ChildScore) -> dict[str, Any]:
    lines = [_line(line) for line in score.lines]
    if score.reason:  # missing data is explained, never guessed
        lines = [{"rule": "no_semester2_result", "points": 0, "event_ids": [],
                  "reason": score.reason}]
    return {"child_id": score.child_id, "points": score.points, "reason": score.reason,
            "lines": lines}


def _assessee(helper: dict[str, Any], kind: str, points: int | Decimal,
              scheme: a.Scheme) -> dict[str, Any]:
    return {"helper_id": helper["helper_id"], "name": helper["name"], "kind": kind,
            "points": number(points), "award_fen": a.award_fen(scheme, points)}


def _volunteers(inputs: Inputs, scores: dict[str, a.ChildScore],
                scheme: a.Scheme) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Only pairings whose helper is a volunteer count (志愿者); teachers are scored by class."""
    pairings = [p for p in inputs.pairings
                if inputs.helpers.get(p.helper_id, {}).get("role") == "volunteer"]
    found = a.volunteer_points(scores.values(), pairings, inputs.s2_dates)
    assessees, trails = [], {}
    for helper_id, score in sorted(found.items()):
        assessee = _assessee(inputs.helpers[helper_id], "volunteer", score.points, scheme)
        lines = [_line(line, child_id=c.child_id, pairing_event_id=c.pairing_event_id)
                 for c in score.children for line in scores[c.child_id].lines]
        assessees.append(assessee)
        trails[helper_id] = {**assessee, "lines": lines}
    return assessees, trails


def _class_teachers(inputs: Inputs, scores: dict[str, a.ChildScore],
                    scheme: a.Scheme) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Each class teacher gets the mean of the active children ranked in their class."""
    classes = a.class_teacher_points(s for cid, s in scores.items() if cid in inputs.active)
    assessees, trails = [], {}
    for helper_id, helper in sorted(inputs.helpers.items()):
        found = classes.get((helper["school"] or "", helper["class_name"] or ""))
        if helper["role"] != "class_teacher" or found is None:
            continue
        assessee = _assessee(helper, "class_teacher", found.mean, scheme)
        lines = [_line(line, child_id=cid) for cid in found.child_ids
                 for line in scores[cid].lines]
        assessees.append(assessee)
        trails[helper_id] = {**assessee, "count": found.count, "lines": lines}
    return assessees, trails


def amendments(frozen: dict[str, Any], live: dict[str, Any], inputs: Inputs,
               published_at: int) -> list[dict[str, Any]]:
    """Per child whose points changed since publication: old, new, and the correcting events."""
    old = {c["child_id"]: c["points"] for c in frozen["children"]}
    result = []
    for child in live["children"]:
        before, after = old.get(child["child_id"], 0), child["points"]
        if before == after:
            continue
        later = [e.event_id for e in inputs.exams if e.child_id == child["child_id"]
                 and inputs.positions[e.event_id] > published_at]
        result.append({"child_id": child["child_id"], "old_points": before,
                       "new_points": after, "difference": after - before, "event_ids": later})
    return result
