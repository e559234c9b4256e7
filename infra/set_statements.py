"""One PostgreSQL statement for a run of rows, where it leaves what the rows one by one would.

A view's batch writes runs of rows of one statement (`executemany`). psycopg sends those as
a pipeline of one statement per row; these rewrites send the run as one statement instead:

- a plain INSERT as COPY;
- an INSERT ... ON CONFLICT DO NOTHING, or a plain INSERT with constants in its VALUES, as
  one INSERT ... SELECT FROM unnest(one array per column) (a row twice in it is still a
  no-op);
- an upsert whose every update is `c=excluded.c` as the same INSERT ... SELECT FROM unnest,
  its rows merged first by their conflict key (below);
- a DELETE ... WHERE c=? as one DELETE ... WHERE c = ANY(array).

Measured on 60,000 rows of three columns: 25.5 µs a row by executemany, 8.8 by unnest, 5.7
by COPY (bench/RESULTS.md). Anything else keeps executemany.

Why merging an upsert's rows is exact: one statement may not touch a row twice, and a run
may name a key twice (a child registered and changed in one batch). One by one, the first
row for a key inserts it (or meets the stored row) and every later row sets the updated
columns again, from its own values. So the key ends with the stored (or first) row's other
columns and the last row's updated columns: the merged row, when the conflict key is the
table's only unique index (another could refuse a row one by one that a merged run would
not meet) and no key is NULL (NULL keys never conflict).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

_PLAIN_INSERT = re.compile(r"INSERT INTO (\S+)( \([\w, ]+\))? VALUES \((?:\?,)*\?\)")
INSERT_OR_NOTHING = re.compile(r"INSERT INTO (\S+)(?: \(([\w, ]+)\))? VALUES \(([\w?, ]+)\)"
                               r"( ON CONFLICT(?: \([\w, ]+\))? DO NOTHING)?")
UPSERT = re.compile(r"INSERT INTO (\S+)(?: \(([\w, ]+)\))? VALUES \(([?, ]+)\) ON CONFLICT "
                     r"\(([\w, ]+)\) DO UPDATE SET ((?:\w+ ?= ?excluded\.\w+, ?)*"
                     r"\w+ ?= ?excluded\.\w+)")
_ASSIGNMENT = re.compile(r"(\w+) ?= ?excluded\.(\w+)")
DELETE_WHERE_ONE = re.compile(r"DELETE FROM (\S+) WHERE (\w+) ?= ?\?")

Columns = list[tuple[str, str]]  # a table's (column, type), in order


def copy_sql(sql: str) -> str | None:
    match = _PLAIN_INSERT.fullmatch(sql.strip())
    return f"COPY {match[1]}{match[2] or ''} FROM STDIN" if match else None


def _names(named: str | None, columns: Columns) -> list[str]:
    return [n.strip() for n in named.split(",")] if named else [c for c, _ in columns]


def unnest_sql(match: re.Match[str], columns: Columns) -> str | None:
    """INSERT ... SELECT over one array parameter per `?`; constants stay as they are."""
    table, named, values, conflict = match.groups()
    items = [item.strip() for item in values.split(",")]
    types = dict(columns)
    names = _names(named, columns)
    if len(names) != len(items) or any(n not in types for n in names):
        return None
    arrays = [f"%b::{types[n]}[]" for n, item in zip(names, items) if item == "?"]
    aliases = [f"u{i}" for i in range(len(arrays))]
    picks, next_alias = [], iter(aliases)
    for item in items:
        picks.append(next(next_alias) if item == "?" else item)
    return (f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(picks)} FROM "
            f"unnest({', '.join(arrays)}) AS u({', '.join(aliases)}){conflict or ''}")


def normalized(sql: str) -> str:
    """One space between words: the views build their SQL over several string literals."""
    return " ".join(sql.split())


@dataclass(frozen=True)
class UpsertPlan:
    """An upsert's run as one statement: the SQL and where its key and updates sit in a row."""

    sql: str
    keys: tuple[int, ...]
    updated: tuple[int, ...]

    def merge(self, rows: Sequence[Sequence[Any]]) -> list[list[Any]] | None:
        """One row per key, as one by one would leave it (the module's note); None when a key
        is NULL."""
        merged: dict[tuple[Any, ...], list[Any]] = {}
        for row in rows:
            key = tuple(row[i] for i in self.keys)
            if None in key:
                return None
            found = merged.get(key)
            if found is None:
                merged[key] = list(row)
            else:
                for i in self.updated:
                    found[i] = row[i]
        return list(merged.values())


def upsert_plan(match: re.Match[str], columns: Columns,
                unique_indexes: int) -> UpsertPlan | None:
    """The plan for an upsert (a match of UPSERT) whose updates are all `c=excluded.c`, on a
    table whose only unique index is the conflict key; None for any other."""
    if unique_indexes != 1:
        return None
    table, named, values, conflict, sets = match.groups()
    types = dict(columns)
    names = _names(named, columns)
    keys = [k.strip() for k in conflict.split(",")]
    assignments = _ASSIGNMENT.findall(sets)
    if (len(names) != values.count("?") or any(n not in types for n in names)
            or any(k not in names for k in keys)
            or any(column != source or column not in names for column, source in assignments)):
        return None
    aliases = [f"u{i}" for i in range(len(names))]
    statement = (f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(aliases)} FROM "
                 f"unnest({', '.join(f'%b::{types[n]}[]' for n in names)}) "
                 f"AS u({', '.join(aliases)}) ON CONFLICT ({', '.join(keys)}) DO UPDATE SET "
                 + ", ".join(f"{c}=excluded.{c}" for c, _ in assignments))
    return UpsertPlan(statement, tuple(names.index(k) for k in keys),
                      tuple(names.index(c) for c, _ in assignments))


def delete_any_sql(match: re.Match[str], columns: Columns) -> str | None:
    """DELETE ... WHERE c = ANY(one array of the rows' values), for a match of
    DELETE_WHERE_ONE: the union of the deletes."""
    types = dict(columns)
    if match[2] not in types:
        return None
    return f"DELETE FROM {match[1]} WHERE {match[2]} = ANY(%b::{types[match[2]]}[])"
