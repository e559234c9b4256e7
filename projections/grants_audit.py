"""The disbursement audit: totals by programme, period, agency and township, and anomalies.

The view keeps plain facts (programmes, grants, each child's status history with its
times); anomalies are judged when read, so a fact that arrives late in store order
(imported history, a status change entered afterwards) is still taken into account.
"""

from collections import defaultdict
from datetime import UTC
from typing import Any

from domain.child import Child
from domain.grant import Grant, Programme
from projections.batching import apply_in_runs
from projections.view import Cursor, in_clause

FILTERS = ("programme", "period", "agency", "township")
# Statuses in which the case is not open here, and in which the child is no longer left-behind.
CLOSED = {"closed": "closed", "transferred": "transferred to another township"}
NOT_LEFT_BEHIND = {"no_longer_left_behind": "no longer left-behind", "aged_out": "aged out"}


# No cut: every grant (an administrator, an auditor of the whole county).
ALL: tuple[str, list[Any]] = ("1=1", [])


def utc_iso(value: Any) -> str:
    """ISO text in UTC, so times from +08:00 phones and the server sort together."""
    return str(value.astimezone(UTC).isoformat())


GRANT_COLUMNS = ("grant_id", "position", "child_id", "programme", "period", "amount_fen", "kind",
                 "approved", "approver", "agency", "approved_at", "disburser", "disbursed_at",
                 "disbursed_position", "revoked_position")


def _approved_row(position: int, event: Any) -> dict[str, Any]:
    return {**dict.fromkeys(GRANT_COLUMNS), "grant_id": str(event.originator_id),
            "position": position, "child_id": event.child_id, "programme": event.programme,
            "period": event.period, "amount_fen": event.amount_fen, "kind": event.kind,
            "approved": 1, "approver": event.actor_id, "agency": event.agency,
            "approved_at": utc_iso(event.occurred_at)}


class GrantsAuditView:
    """Tables grants_programmes, grants_grants, grants_children, grants_child_status."""

    name = "grants_audit"

    def __init__(self, table: Any) -> None:
        self.programmes = table("grants_programmes")
        self.grants = table("grants_grants")
        self.children = table("grants_children")
        self.statuses = table("grants_child_status")

    def create_tables(self, cur: Cursor) -> None:
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.programmes} (code TEXT PRIMARY KEY, "
                    "name TEXT, funding_agency TEXT, cap_fen BIGINT, period_kind TEXT)")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.grants} (grant_id TEXT PRIMARY KEY, "
                    "position BIGINT NOT NULL, child_id TEXT, programme TEXT, period TEXT, "
                    "amount_fen BIGINT, kind TEXT, approved INTEGER NOT NULL, approver TEXT, "
                    "agency TEXT, approved_at TEXT, disburser TEXT, disbursed_at TEXT, "
                    "disbursed_position BIGINT, revoked_position BIGINT)")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.children} (child_id TEXT PRIMARY KEY, "
                    "township TEXT)")
        cur.execute(f"CREATE TABLE IF NOT EXISTS {self.statuses} (child_id TEXT NOT NULL, "
                    "position BIGINT NOT NULL, status TEXT NOT NULL, occurred_at TEXT NOT NULL,"
                    " recorded_at TEXT NOT NULL, PRIMARY KEY (child_id, position))")

    def reset(self, cur: Cursor) -> None:
        for table in (self.programmes, self.grants, self.children, self.statuses):
            cur.execute(f"DELETE FROM {table}")

    def apply_batch(self, cur: Cursor, events: list[tuple[int, Any]]) -> None:
        """The batch's statements of apply, sent in runs (projections/batching.py), except
        the grants': their approvals, payments and revocations alternate on one table, which
        broke every run (three round trips a grant), so they are folded per grant in memory
        and written once. Grant events touch only the grants table and the others never do,
        so the two parts are independent."""
        grants = [(p, e) for p, e in events if isinstance(e, Grant.Event)]
        apply_in_runs(self.apply, cur, [(p, e) for p, e in events
                                        if not isinstance(e, Grant.Event)])
        if grants:
            self._write_grants(cur, self._fold_grants(cur, grants))

    def _fold_grants(self, cur: Cursor, events: list[tuple[int, Any]],
                     ) -> dict[str, dict[str, Any]]:
        """The rows of the batch's grants after its events, as apply would leave them."""
        ids = sorted({str(e.originator_id) for _, e in events})
        rows: dict[str, dict[str, Any]] = {}
        for start in range(0, len(ids), 500):
            part = ids[start:start + 500]
            for row in cur.execute(f"SELECT * FROM {self.grants} WHERE grant_id IN "
                                   f"{in_clause(len(part))}", part).fetchall():
                rows[row["grant_id"]] = row
        changed: dict[str, dict[str, Any]] = {}
        for position, event in events:
            grant_id = str(event.originator_id)
            row = rows.get(grant_id)
            if isinstance(event, Grant.Approved) and row is None:
                row = rows[grant_id] = _approved_row(position, event)
            elif isinstance(event, Grant.Disbursed):
                row = rows.get(grant_id) or rows.setdefault(
                    grant_id, {**dict.fromkeys(GRANT_COLUMNS), "grant_id": grant_id,
                               "position": position, "approved": 0})
                row.update(disburser=event.actor_id, disbursed_at=utc_iso(event.occurred_at),
                           disbursed_position=position)
            elif isinstance(event, Grant.Revoked) and row is not None:
                row["revoked_position"] = position
            else:
                continue
            changed[grant_id] = row
        return changed

    def _write_grants(self, cur: Cursor, rows: dict[str, dict[str, Any]]) -> None:
        updates = ", ".join(f"{c}=excluded.{c}" for c in GRANT_COLUMNS if c != "grant_id")
        cur.executemany(  # type: ignore[attr-defined]
            f"INSERT INTO {self.grants} ({', '.join(GRANT_COLUMNS)}) VALUES "
            f"{in_clause(len(GRANT_COLUMNS))} ON CONFLICT (grant_id) DO UPDATE SET {updates}",
            [tuple(row[c] for c in GRANT_COLUMNS) for row in rows.values()])

    def apply(self, cur: Cursor, position: int, event: Any) -> None:
        if isinstance(event, Child.Registered):
            self._child(cur, position, event)
        elif isinstance(event, Child.StatusChanged):
            self._status(cur, position, str(event.originator_id), event.status, event)
        elif isinstance(event, Programme.Created):
            cur.execute(f"INSERT INTO {self.programmes} VALUES (?,?,?,?,?) "
                        "ON CONFLICT (code) DO NOTHING", (event.code, event.name,
                                                         event.funding_agency, event.cap_fen,
                                                         event.period_kind))
        elif isinstance(event, Grant.Approved):
            self._approved(cur, position, event)
        elif isinstance(event, Grant.Disbursed):
            self._disbursed(cur, position, event)
        elif isinstance(event, Grant.Revoked):
            cur.execute(f"UPDATE {self.grants} SET revoked_position=? WHERE grant_id=?",
                        (position, str(event.originator_id)))

    def _child(self, cur: Cursor, position: int, event: Any) -> None:
        cur.execute(f"INSERT INTO {self.children} VALUES (?,?) ON CONFLICT (child_id) DO NOTHING",
                    (str(event.originator_id), event.profile.get("township", "")))
        self._status(cur, position, str(event.originator_id), "active", event)

    def _status(self, cur: Cursor, position: int, child_id: str, status: str, event: Any) -> None:
        cur.execute(f"INSERT INTO {self.statuses} VALUES (?,?,?,?,?) "
                    "ON CONFLICT (child_id, position) DO NOTHING",
                    (child_id, position, status, utc_iso(event.occurred_at),
                     utc_iso(event.recorded_at)))

    def _approved(self, cur: Cursor, position: int, event: Any) -> None:
        cur.execute(
            f"INSERT INTO {self.grants} (grant_id, position, child_id, programme, period, "
            "amount_fen, kind, approved, approver, agency, approved_at) "
            "VALUES (?,?,?,?,?,?,?,1,?,?,?) ON CONFLICT (grant_id) DO NOTHING",
            (str(event.originator_id), position, event.child_id, event.programme, event.period,
             event.amount_fen, event.kind, event.actor_id, event.agency,
             utc_iso(event.occurred_at)))

    def _disbursed(self, cur: Cursor, position: int, event: Any) -> None:
        # A payment of a grant the audit never saw approved is kept, to be flagged.
        cur.execute(f"INSERT INTO {self.grants} (grant_id, position, approved) VALUES (?,?,0) "
                    "ON CONFLICT (grant_id) DO NOTHING", (str(event.originator_id), position))
        cur.execute(f"UPDATE {self.grants} SET disburser=?, disbursed_at=?, disbursed_position=? "
                    "WHERE grant_id=?", (event.actor_id, utc_iso(event.occurred_at), position,
                                         str(event.originator_id)))

    # --- reads --------------------------------------------------------------------------

    def totals(self, cur: Cursor, filters: dict[str, str],
               reach: tuple[str, list[Any]] = ALL) -> list[dict[str, Any]]:
        """Approved (gross), disbursed and revoked fen per programme, period, agency, township,
        of the grants `reach` keeps (a clause over g.child_id: infra/web/reach.within_sql)."""
        where, params = ["g.approved = 1", f"({reach[0]})"], list(reach[1])
        for key in FILTERS:
            if filters.get(key):
                where.append(f"{'c' if key == 'township' else 'g'}.{key} = ?")
                params.append(filters[key])
        rows = cur.execute(
            "SELECT g.programme, g.period, g.agency, COALESCE(c.township, '') AS township, "
            "COUNT(*) AS count, CAST(SUM(g.amount_fen) AS BIGINT) AS approved_fen, "
            "CAST(SUM(CASE WHEN g.disbursed_position IS NOT NULL THEN g.amount_fen ELSE 0 END)"
            " AS BIGINT) AS disbursed_fen, "
            "CAST(SUM(CASE WHEN g.revoked_position IS NOT NULL THEN g.amount_fen ELSE 0 END)"
            f" AS BIGINT) AS revoked_fen FROM {self.grants} g "
            f"LEFT JOIN {self.children} c ON c.child_id = g.child_id "
            f"WHERE {' AND '.join(where)} GROUP BY g.programme, g.period, g.agency, c.township "
            "ORDER BY g.programme, g.period, g.agency, township", params).fetchall()
        for row in rows:
            for key in ("count", "approved_fen", "disbursed_fen", "revoked_fen"):
                row[key] = int(row[key] or 0)
        return rows

    def all_grants(self, cur: Cursor, reach: tuple[str, list[Any]] = ALL,
                   ) -> list[dict[str, Any]]:
        """Every grant `reach` keeps in store order, with its approval, payment and
        revocation."""
        return cur.execute(
            "SELECT grant_id, child_id, programme, period, amount_fen, kind, approver, agency, "
            "approved_at, disburser, disbursed_at, revoked_position IS NOT NULL AS revoked "
            f"FROM {self.grants} g WHERE {reach[0]} ORDER BY position", reach[1]).fetchall()

    def anomalies(self, cur: Cursor, reach: tuple[str, list[Any]] = ALL,
                  ) -> list[dict[str, Any]]:
        """Every flagged grant `reach` keeps, with the rule it breaks, in store order (a
        duplicate is one child's, so the cut never parts a pair)."""
        grants = cur.execute(
            f"SELECT g.*, p.cap_fen FROM {self.grants} g LEFT JOIN {self.programmes} p "
            f"ON p.code = g.programme WHERE {reach[0]} ORDER BY g.position", reach[1]).fetchall()
        history: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in cur.execute(f"SELECT * FROM {self.statuses} ORDER BY occurred_at, position"
                               ).fetchall():
            history[row["child_id"]].append(row)
        found = duplicates(grants)
        for grant in grants:
            found += rules_of(grant, history.get(grant["child_id"] or "", []))
        found.sort(key=lambda a: a.pop("_position"))
        return found


def flag(grant: dict[str, Any], rule: str, detail: str) -> dict[str, Any]:
    return {"grant_id": grant["grant_id"], "child_id": grant["child_id"], "rule": rule,
            "detail": detail, "_position": grant["position"]}


def duplicates(grants: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same child and period granted twice by one programme (across agencies too)."""
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = defaultdict(list)
    for g in grants:
        if g["approved"] and g["revoked_position"] is None:
            groups[(g["programme"], g["child_id"], g["period"])].append(g)
    found = []
    for (programme, _, period), group in groups.items():
        if len(group) < 2:
            continue
        for g in group:
            others = ", ".join(o["grant_id"] for o in group if o is not g)
            found.append(flag(g, "duplicate_period",
                              f"programme {programme}, period {period}: also granted in {others}"))
    return found


def rules_of(grant: dict[str, Any], history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules one grant can break on its own."""
    found = []
    if grant["approved"] and grant["cap_fen"] is not None and grant["amount_fen"] > grant[
            "cap_fen"]:
        found.append(flag(grant, "above_cap",
                          f"{grant['amount_fen']} fen above the cap of {grant['cap_fen']} fen"))
    if grant["disbursed_position"] is None:
        return found
    if grant["disburser"] == grant["approver"]:
        found.append(flag(grant, "approver_is_disburser",
                          f"{grant['approver']} both approved and disbursed it"))
    revoked = grant["revoked_position"]
    if not grant["approved"] or (revoked is not None and revoked < grant["disbursed_position"]):
        why = "never approved" if not grant["approved"] else "paid after it was revoked"
        found.append(flag(grant, "disbursed_without_approval", why))
    return found + eligibility(grant, history)


def eligibility(grant: dict[str, Any], history: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The child's status at the moment of payment, from its history, not today's file."""
    paid_at = grant["disbursed_at"]
    before = [h for h in history if h["occurred_at"] <= paid_at]
    if not before:
        return [flag(grant, "not_registered_at_payment", f"paid {paid_at}, no file open then")]
    status = before[-1]
    since = f"{status['status']} since {status['occurred_at']}, paid {paid_at}"
    if status["status"] in CLOSED:
        return [flag(grant, "closed_at_payment", f"case {since}")]
    if status["status"] in NOT_LEFT_BEHIND:
        return [flag(grant, "not_left_behind_at_payment", f"child {since}")]
    return []
