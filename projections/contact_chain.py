"""The contact chain view: per child whom to call, search keys for the lookup, open incidents."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from domain import contact_chain as rules
from domain.child import Child
from domain.helper import Helper
from domain.personal import ERASED, scrub
from domain.incident import MANDATORY_REPORT, REPORT_WITHIN_HOURS, Incident, is_overdue
from projections import case_file
from projections.batching import WriteBatch
from projections.view import Cursor, in_clause, to_json
from services.jurisdiction import PLACE_FIELDS as PLACE_COLUMNS

# A prefix query reads at most this many keys: enough to rank, never the whole table.
MAX_KEYS = 400
# Everything that starts with a key sorts between the key and the key plus this character.
TOP = "\U0010ffff"
FAMILY_EVENTS = (Child.Registered, Child.GuardianReplaced, Child.ParentsReplaced)


def _utc(value: datetime) -> str:
    """ISO text in UTC, so that times written by any client compare as text."""
    return value.astimezone(UTC).isoformat()


def _family_phones(file: dict[str, Any]) -> list[str]:
    phones = [(file.get("guardian") or {}).get("phone")]
    return [p for p in phones + [x.get("phone") for x in file.get("parents") or []] if p]


class ContactChainView:
    """Tables chain_children, chain_helpers, lookup_keys and incidents."""

    name = "contact_chain"
    # 2: lookup_keys carries each child's place, so a search keeps the caller's reach while
    # it reads the keys. A store built by version 1 is dropped and built again
    # (ProjectionRunner.create_tables).
    version = 2

    def __init__(self, table: Any) -> None:
        self.children = table("chain_children")
        self.helpers = table("chain_helpers")
        self.keys = table("lookup_keys")
        self.incidents = table("incidents")

    def create_tables(self, cur: Cursor) -> None:
        # Byte order on PostgreSQL, so that a prefix is a range its index serves (SQLite's
        # default BINARY collation already is).
        collate = ' COLLATE "C"' if getattr(cur, "is_pg", False) else ""
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.children} (child_id TEXT PRIMARY KEY, "
                    "file TEXT NOT NULL, confirmed TEXT NOT NULL)")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.helpers} (helper_id TEXT PRIMARY KEY, "
                    "role TEXT, school TEXT, class_name TEXT, township TEXT, village TEXT, "
                    "details TEXT NOT NULL, confirmed_at TEXT)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS chain_helpers_class ON {self.helpers} "
                    "(role, school, class_name)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS chain_helpers_village ON {self.helpers} "
                    "(role, village)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS chain_helpers_township ON {self.helpers} "
                    "(role, township)")
        # Each key carries its child's place (services/jurisdiction.PLACE_FIELDS), so that a
        # search keeps the children the caller reaches as it reads the keys.
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.keys} (child_id TEXT NOT NULL, "
                    f"kind TEXT NOT NULL, key TEXT{collate} NOT NULL, township TEXT, "
                    "village TEXT, school TEXT, class_name TEXT, "
                    "PRIMARY KEY (child_id, kind, key))")
        # Covering: a lookup reads an index alone, never the table. Anyone's search reads
        # the keys in key order; a caller bound to a township (and village) or to a school
        # (and class), as every role but admin and volunteer is (services/handlers.
        # JURISDICTION_NEEDS), reads only their part of the keys, in key order, from the
        # second or third index. With the place tested on entries of the first, a class
        # teacher's "zh" walked every "zh…" key of the county to find the class's few.
        cur.execute(f"CREATE INDEX IF NOT EXISTS lookup_keys_key ON {self.keys} "
                    "(key, kind, child_id)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS lookup_keys_township ON {self.keys} "
                    "(township, key, kind, child_id, village)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS lookup_keys_school ON {self.keys} "
                    "(school, key, kind, child_id, class_name)")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.incidents} (incident_id TEXT PRIMARY KEY,"
                    " child_id TEXT NOT NULL, category TEXT NOT NULL, severity TEXT NOT NULL, "
                    "occurred_at TEXT NOT NULL, reported_at TEXT NOT NULL, location TEXT, "
                    "status TEXT NOT NULL, police_at TEXT, township TEXT, village TEXT, "
                    "school TEXT, class_name TEXT, position BIGINT NOT NULL)")
        cur.execute(f"CREATE INDEX IF NOT EXISTS incidents_status ON {self.incidents} "
                    "(status, category)")

    def reset(self, cur: Cursor) -> None:
        for table in (self.children, self.helpers, self.keys, self.incidents):
            cur.execute(f"DELETE FROM {table}")

    def drop_tables(self, cur: Cursor) -> None:
        """For a new version of the view: its tables go, create_tables makes them anew."""
        for table in (self.children, self.helpers, self.keys, self.incidents):
            cur.execute(f"DROP TABLE IF EXISTS {table}")

    def apply(self, cur: Cursor, position: int, event: Any) -> None:
        if isinstance(event, Child.Event):
            self._apply_child(cur, event)
        elif isinstance(event, Helper.Event):
            self._apply_helper(cur, event)
        elif isinstance(event, Incident.Event):
            self._apply_incident(cur, position, event)

    # --- children ----------------------------------------------------------------------

    def _load_child(self, cur: Cursor, child_id: str) -> dict[str, Any] | None:
        row = cur.execute(f"SELECT file, confirmed FROM {self.children} WHERE child_id=?",
                          (child_id,)).fetchone()
        if row is None:
            return None
        return {"file": json.loads(row["file"]), "confirmed": json.loads(row["confirmed"])}

    def _apply_child(self, cur: Cursor, event: Any) -> None:
        self.apply_batch(cur, [(0, event)])

    def apply_batch(self, cur: Cursor, events: list[tuple[int, Any]]) -> None:
        """Children's events are folded in memory and written once per child and batch;
        helper and incident events, which read or change those rows, flush them first."""
        writes = WriteBatch(cur)  # every statement of the batch is sent in runs
        batch = _ChildBatch(self, writes, events)
        for index, (position, event) in enumerate(events):
            if isinstance(event, Child.Event):
                batch.fold(event, index)
            elif isinstance(event, (Helper.Event, Incident.Event)):
                batch.flush()
                self.apply(writes, position, event)
        batch.flush()
        writes.flush()

    def _load_children(self, cur: Cursor, child_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The stored rows of these children, in one read."""
        if not child_ids:
            return {}
        rows = cur.execute(f"SELECT child_id, file, confirmed FROM {self.children} WHERE "
                           f"child_id IN {in_clause(len(child_ids))}", child_ids).fetchall()
        return {r["child_id"]: {"file": json.loads(r["file"]),
                                "confirmed": json.loads(r["confirmed"])} for r in rows}

    def _write_child(self, cur: Cursor, child_id: str, state: dict[str, Any],
                     keys_changed: bool) -> None:
        cur.execute(f"INSERT INTO {self.children} VALUES (?,?,?) ON CONFLICT (child_id) DO "
                    "UPDATE SET file=excluded.file, confirmed=excluded.confirmed",
                    (child_id, to_json(state["file"]), to_json(state["confirmed"])))
        if keys_changed:
            self._write_keys(cur, child_id, state["file"])

    def _write_keys(self, cur: Cursor, child_id: str, file: dict[str, Any]) -> None:
        self._rewrite_keys(cur, {child_id: file})

    def _write_children(self, cur: Cursor, states: dict[str, dict[str, Any]],
                        rekeyed: set[str]) -> None:
        """Rows of many children: one executemany per statement, rows before keys."""
        cur.executemany(f"INSERT INTO {self.children} VALUES (?,?,?) "  # type: ignore[attr-defined]
                        "ON CONFLICT (child_id) DO UPDATE SET file=excluded.file, "
                        "confirmed=excluded.confirmed",
                        [(cid, to_json(s["file"]), to_json(s["confirmed"]))
                         for cid, s in states.items()])
        self._rewrite_keys(cur, {cid: states[cid]["file"] for cid in states if cid in rekeyed})

    def _rewrite_keys(self, cur: Cursor, files: dict[str, dict[str, Any]]) -> None:
        """Every deletion first, then every insertion (the children are distinct), so that
        a batch's keys cost two executemany, not two statements per child."""
        cur.executemany(f"DELETE FROM {self.keys} WHERE child_id=?",  # type: ignore[attr-defined]
                        [(child_id,) for child_id in files])
        # A merged file is found through its survivor; an erased one not at all.
        cur.executemany(f"INSERT INTO {self.keys} VALUES (?,?,?,?,?,?,?)",  # type: ignore[attr-defined]
                        [(child_id, kind, key, *(file.get(c) for c in PLACE_COLUMNS))
                         for child_id, file in files.items()
                         if not (file.get("merged_into") or file.get("status") == "erased")
                         for kind, key in rules.lookup_keys(file)])

    def erase(self, cur: Cursor, child_id: str) -> None:
        """Crypto-shredding (issue 3): the chain's family part, the lookup keys and the
        incidents' places go; the Erased event that follows finds nothing left to change."""
        found = self._load_child(cur, child_id)
        if found is not None:
            file = {**scrub(found["file"]), "status": "erased"}
            self._write_child(cur, child_id, {"file": file, "confirmed": {}}, keys_changed=True)
        cur.execute(f"UPDATE {self.incidents} SET location=? WHERE child_id=?",
                    (ERASED, child_id))

    # --- helpers -----------------------------------------------------------------------

    def _apply_helper(self, cur: Cursor, event: Any) -> None:
        helper_id = str(event.originator_id)
        details = dict(getattr(event, "details", {}) or {})
        confirmed_at = _utc(event.recorded_at) if details.get("phone") else None
        if isinstance(event, Helper.DetailsChanged):
            row = cur.execute(f"SELECT details, confirmed_at FROM {self.helpers} "
                              "WHERE helper_id=?", (helper_id,)).fetchone()
            if row is None:
                return
            details = {**json.loads(row["details"]), **details}
            confirmed_at = confirmed_at or row["confirmed_at"]
        elif not isinstance(event, Helper.Registered):
            return
        cur.execute(f"INSERT INTO {self.helpers} VALUES (?,?,?,?,?,?,?,?) ON CONFLICT "
                    "(helper_id) DO UPDATE SET role=excluded.role, school=excluded.school, "
                    "class_name=excluded.class_name, township=excluded.township, "
                    "village=excluded.village, details=excluded.details, "
                    "confirmed_at=excluded.confirmed_at",
                    (helper_id, details.get("role"), details.get("school"),
                     details.get("class_name"), details.get("township"), details.get("village"),
                     to_json(details), confirmed_at))

    # --- incidents ---------------------------------------------------------------------

    def _apply_incident(self, cur: Cursor, position: int, event: Any) -> None:
        incident_id = str(event.originator_id)
        if isinstance(event, Incident.Reported):
            found = self._load_child(cur, event.child_id)
            file = found["file"] if found else {}
            cur.execute(f"INSERT INTO {self.incidents} VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                        (incident_id, event.child_id, event.category, event.severity,
                         _utc(event.occurred_at), _utc(event.recorded_at), event.location,
                         "open", None, file.get("township"), file.get("village"),
                         file.get("school"), file.get("class_name"), position))
        elif isinstance(event, Incident.ContactAttempted) and event.reached:
            self._confirm_by_call(cur, incident_id, event.phone, _utc(event.recorded_at))
        elif isinstance(event, Incident.Escalated) and event.to == "police":
            cur.execute(f"UPDATE {self.incidents} SET police_at=? WHERE incident_id=? AND "
                        "police_at IS NULL", (_utc(event.recorded_at), incident_id))
        elif isinstance(event, Incident.Resolved):
            cur.execute(f"UPDATE {self.incidents} SET status='resolved' WHERE incident_id=?",
                        (incident_id,))

    def _confirm_by_call(self, cur: Cursor, incident_id: str, phone: str, at: str) -> None:
        """Someone answered that phone: it is confirmed for the incident's child."""
        row = cur.execute(f"SELECT child_id FROM {self.incidents} WHERE incident_id=?",
                          (incident_id,)).fetchone()
        found = self._load_child(cur, row["child_id"]) if row else None
        if row is None or found is None:
            return
        confirmed = found["confirmed"]
        _confirm(confirmed, [phone], at)
        cur.execute(f"UPDATE {self.children} SET confirmed=? WHERE child_id=?",
                    (to_json(confirmed), row["child_id"]))

    # --- reads -------------------------------------------------------------------------

    def chains(self, cur: Cursor, child_ids: list[str], category: str | None,
               now: datetime) -> dict[str, dict[str, Any]]:
        """The chain of each known child, with its file, by child id: two queries in all."""
        return self.chains_of(cur, self.files(cur, child_ids), category, now)

    def files(self, cur: Cursor, child_ids: list[str]) -> dict[str, tuple[dict[str, Any], str]]:
        """Each known child's file, parsed, and its confirmations as stored, by id: a lookup
        decides who may see a candidate from the file, then builds the chains of the kept
        ones from the same rows (one read, each file parsed once)."""
        if not child_ids:
            return {}
        rows = cur.execute(f"SELECT child_id, file, confirmed FROM {self.children} WHERE "
                           f"child_id IN ({','.join('?' * len(child_ids))})",
                           tuple(child_ids)).fetchall()
        return {r["child_id"]: (json.loads(r["file"]), r["confirmed"]) for r in rows}

    def chains_of(self, cur: Cursor, files: dict[str, tuple[dict[str, Any], str]],
                  category: str | None, now: datetime) -> dict[str, dict[str, Any]]:
        """The chains of these children (from files()), with one read of their helpers."""
        helpers = rules.HelperIndex(self._helpers_for(cur, [f for f, _ in files.values()]))
        found = {}
        for child_id, (file, confirmed) in files.items():
            child = {**file, "pairings": list(file.get("pairings") or {})}
            found[child_id] = {"file": file, "chain": rules.build_chain(
                child, helpers, json.loads(confirmed), category, now)}
        return found

    def _helpers_for(self, cur: Cursor, files: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Paired helpers and those posted at the children's classes or places: a superset
        that build_chain narrows to each child."""
        if not files:
            return []

        def values(*fields: str) -> list[Any]:
            return sorted({f.get(field) or "" for f in files for field in fields})

        # The children's own (school, class) pairs, not every school × every class named:
        # at county scale that cross product brought back hundreds of teachers. One OR arm
        # per pair: SQLite searches the (role, school, class_name) index for each (1.6 ms
        # with a row-value IN (VALUES ...) at 100,000 children, 0.02 ms so).
        classes = sorted({(f.get("school") or "", f.get("class_name") or "") for f in files})
        villages, townships = values("village"), values("township")
        paired = sorted({i for f in files for i in f.get("pairings") or {}})
        groups = [villages, townships, paired or [""]]
        marks = [",".join("?" * len(g)) for g in groups]
        teachers = " OR ".join("(role='class_teacher' AND school=? AND class_name=?)"
                               for _ in classes)
        rows = cur.execute(
            f"SELECT helper_id, details, confirmed_at FROM {self.helpers} WHERE {teachers}"
            f" OR (role IN ('child_director','grid_worker') AND village IN ({marks[0]}))"
            f" OR (role='township_supervisor' AND township IN ({marks[1]}))"
            f" OR helper_id IN ({marks[2]})",
            (*[v for pair in classes for v in pair], *[v for g in groups for v in g])
        ).fetchall()
        return [{**json.loads(r["details"]), "helper_id": r["helper_id"],
                 "confirmed_at": r["confirmed_at"]} for r in rows]

    def lookup(self, cur: Cursor, query: str, limit: int,
               within: tuple[str, list[Any]] | None = None) -> list[str]:
        """Child ids best match first: exact keys, then key prefixes, both by index.

        `within` (a WHERE clause over the place columns and child column `k.child_id`, with
        its parameters, from services/jurisdiction.reach_clause) keeps the children the
        caller may see while the keys are read: the best `limit` of them, however many
        others share the name."""
        sql, params = self.lookup_statement(query, limit, within)
        return [row["child_id"] for row in cur.execute(sql, params).fetchall()]

    def lookup_statement(self, query: str, limit: int,
                         within: tuple[str, list[Any]] | None = None,
                         ) -> tuple[str, list[Any]]:
        """The lookup's one statement (with `?` marks) and its parameters; bench/reads.py
        times the same statement without the API."""
        wanted = rules.normalize(query)
        if rules.is_digits_query(wanted.replace("-", "")):  # a landline as 0851-1234567
            wanted = rules.digits_key(wanted.replace("-", ""))
        clause, reach = within if within is not None else ("1=1", [])
        # Each half reads a bounded slice of the index (the caller's part of it); the
        # ranking happens in SQL so that only the best few rows come back to Python.
        sql = (f"SELECT child_id, MIN(r) AS r FROM ("
               f"SELECT * FROM (SELECT child_id, {rank_sql(True)} AS r FROM {self.keys} k "
               f"WHERE key=? AND ({clause}) LIMIT ?) e UNION ALL "
               f"SELECT * FROM (SELECT child_id, {rank_sql(False)} AS r FROM {self.keys} k "
               f"WHERE key>? AND key<? AND ({clause}) LIMIT ?) p) u "
               "GROUP BY child_id ORDER BY r, child_id LIMIT ?")
        return sql, [wanted, *reach, MAX_KEYS, wanted, wanted + TOP, *reach, MAX_KEYS, limit]

    def incident_list(self, cur: Cursor, status: str | None, overdue: bool | None,
                      now: datetime, limit: int, reach: tuple[str, list[Any]] = ("1=1", []),
                      ) -> list[dict[str, Any]]:
        """Incidents newest first, each with the overdue flag of the mandatory report;
        `reach` (services/jurisdiction.reach_clause) keeps those in the caller's area."""
        where, params = [f"({reach[0]})"], list(reach[1])
        if status:
            where.append("status=?")
            params.append(status)
        if overdue:
            # Only reports older than the deadline can be overdue; the rule decides the rest.
            deadline = _utc(now - timedelta(hours=REPORT_WITHIN_HOURS))
            marks = ",".join("?" * len(MANDATORY_REPORT))
            where.append(f"status='open' AND category IN ({marks}) AND reported_at < ?")
            params += [*MANDATORY_REPORT, deadline]
        rows = cur.execute(f"SELECT * FROM {self.incidents} WHERE {' AND '.join(where)} "
                           "ORDER BY position DESC LIMIT ?", (*params, limit)).fetchall()
        for row in rows:
            police = datetime.fromisoformat(row["police_at"]) if row["police_at"] else None
            row["overdue"] = row["status"] == "open" and is_overdue(
                row["category"], datetime.fromisoformat(row["reported_at"]), police, now)
            row["id"] = row.pop("incident_id")
            row.pop("position", None)
        if overdue is not None:
            rows = [r for r in rows if r["overdue"] == overdue]
        return rows

def _confirm(confirmed: dict[str, str], phones: list[str], at: str) -> None:
    """Keep the latest confirmation of each phone; an older visit never moves it back."""
    for phone in phones:
        if phone and (phone not in confirmed or confirmed[phone] < at):
            confirmed[phone] = at


def rank_sql(exact: bool) -> str:
    """The lookup's ranking (domain.contact_chain.RANK) as a CASE over the key's kind."""
    whens = " ".join(f"WHEN '{kind}' THEN {score}"
                     for (kind, is_exact), score in rules.RANK.items() if is_exact == exact)
    return f"CASE kind {whens} ELSE 99 END"


def _searchable(file: dict[str, Any]) -> tuple[Any, ...]:
    """The parts of a file the lookup keys come from."""
    return (file.get("name"), file.get("id_number"), *(file.get(c) for c in PLACE_COLUMNS),
            _family_phones(file), file.get("merged_into"))


def _next_child_state(found: dict[str, Any] | None, event: Any) -> dict[str, Any] | None:
    """The child's file and phone confirmations after one event; None when nothing changes."""
    current = found["file"] if found else None
    confirmed = dict(found["confirmed"]) if found else {}
    file = case_file.fold(current, event)
    if file is None:
        return None
    if isinstance(event, FAMILY_EVENTS):
        # Phones just written down by a carer count as confirmed then.
        _confirm(confirmed, _family_phones(file), _utc(event.recorded_at))
    elif isinstance(event, Child.VisitRecorded):
        _confirm(confirmed, event.contacts_confirmed, _utc(event.occurred_at))
    elif file is current or file == current:
        return None
    return {"file": file, "confirmed": confirmed}


class _ChildBatch:
    """Children's rows of one batch, loaded once, folded in memory, written on flush."""

    def __init__(self, view: ContactChainView, cur: Cursor,
                 events: list[tuple[int, Any]] | None = None) -> None:
        self.view, self.cur, self.events = view, cur, events or []
        self.states: dict[str, dict[str, Any] | None] = {}
        self.before: dict[str, Any] = {}  # searchable facts as stored, to rewrite keys once
        self.stored: dict[str, dict[str, Any]] | None = None  # rows as of the last flush

    def _preload(self, event: Any, index: int | None) -> dict[str, dict[str, Any]]:
        """The stored rows of the children of the events up to the next helper or incident
        event (which flushes): one read instead of one per child."""
        ids = {str(event.originator_id)}
        for _, later in self.events[index:] if index is not None else []:
            if isinstance(later, (Helper.Event, Incident.Event)):
                break
            if isinstance(later, Child.Event):
                ids.add(str(later.originator_id))
        return self.view._load_children(self.cur, sorted(ids))

    def fold(self, event: Any, index: int | None = None) -> None:
        child_id = str(event.originator_id)
        if child_id not in self.states:
            if self.stored is None:
                self.stored = self._preload(event, index)
            stored = (None if isinstance(event, Child.Registered)
                      else self.stored.get(child_id))
            self.states[child_id] = stored
            self.before[child_id] = _searchable(stored["file"]) if stored else None
        found = self.states[child_id]
        if found is None and not isinstance(event, Child.Registered):
            return
        following = _next_child_state(found, event)
        if following is not None:
            following["dirty"] = True
            self.states[child_id] = following

    def flush(self) -> None:
        dirty = {child_id: state for child_id, state in self.states.items()
                 if state is not None and state.pop("dirty", False)}
        rekeyed = {child_id for child_id, state in dirty.items()
                   if self.before[child_id] != _searchable(state["file"])}
        if dirty:
            self.view._write_children(self.cur, dirty, rekeyed)
        self.states.clear()
        self.before.clear()
        self.stored = None
