"""A run of rows written as one statement (COPY, INSERT ... SELECT FROM unnest) leaves the
same rows as one INSERT per row, on both stores (SQLite always takes the per-row path)."""

from typing import Any

import pytest

from infra.services import Services
from infra.viewdb import _INSERT_OR_NOTHING, _copy_sql, _unnest_sql

ROWS = [("c1", "2026-01", "visit", 3, None), ("c1", "2026-01", "visit", 3, None),
        ("c2", "2026-02", "feedback", None, "说明"), ("c3", "2026-03", "visit", 2**40, "x"),
        ("c4", "2026-04", "visit", -1, "引号 ' 和 \\ 反斜杠"), ("c5", "2026-05", "x", 0, "")]


def test_statements_are_rewritten_only_where_the_result_is_the_same() -> None:
    assert _copy_sql("INSERT INTO t VALUES (?,?,?)") == "COPY t FROM STDIN"
    assert _copy_sql("INSERT INTO t (a, b) VALUES (?,?)") == "COPY t (a, b) FROM STDIN"
    assert _copy_sql("INSERT INTO t VALUES (?,?) ON CONFLICT DO NOTHING") is None
    assert _copy_sql("INSERT INTO t VALUES (?,?,NULL)") is None
    columns = [("a", "text"), ("b", "bigint"), ("c", "text")]
    match = _INSERT_OR_NOTHING.fullmatch("INSERT INTO t VALUES (?,?,NULL) ON CONFLICT DO NOTHING")
    assert match is not None
    assert _unnest_sql(match, columns) == (
        "INSERT INTO t (a, b, c) SELECT u0, u1, NULL FROM unnest(%s::text[], %s::bigint[]) "
        "AS u(u0, u1) ON CONFLICT DO NOTHING")
    # An upsert that updates may meet one key twice in a run: never one statement.
    assert _INSERT_OR_NOTHING.fullmatch(
        "INSERT INTO t VALUES (?,?) ON CONFLICT (a) DO UPDATE SET b=excluded.b") is None
    # A column count that does not match the table: left to executemany.
    short = _INSERT_OR_NOTHING.fullmatch("INSERT INTO t VALUES (?,?)")
    assert short is not None and _unnest_sql(short, columns) is None


def _table_rows(services: Services, table: str) -> list[tuple[Any, ...]]:
    with services.db.reading() as cur:
        return [tuple(r.values()) for r in cur.execute(
            f"SELECT * FROM {table} ORDER BY 1, 2, 3, 4, 5").fetchall()]


@pytest.mark.parametrize("conflict", ["", " ON CONFLICT DO NOTHING"])
def test_one_statement_leaves_the_rows_executemany_leaves(services: Services,
                                                          conflict: str) -> None:
    tables = [services.db.table(name) for name in ("set_writes_one", "set_writes_many")]
    with services.db.transaction() as cur:
        for table in tables:
            key = ", PRIMARY KEY (a, b, c)" if conflict else ""
            cur.execute(f"CREATE TABLE {table} (a TEXT NOT NULL, b TEXT NOT NULL, "
                        f"c TEXT NOT NULL, n BIGINT, note TEXT{key})")
    rows = ROWS if conflict else ROWS[1:]  # a plain insert with a key twice would fail
    with services.db.transaction() as cur:
        cur.executemany(f"INSERT INTO {tables[0]} VALUES (?,?,?,?,?){conflict}", rows)
        for row in rows:  # one statement each: the reference
            cur.execute(f"INSERT INTO {tables[1]} VALUES (?,?,?,?,?){conflict}", row)
    assert _table_rows(services, tables[0]) == _table_rows(services, tables[1])
    assert len(_table_rows(services, tables[0])) == len(set(rows))


def test_constants_in_values_are_kept(services: Services) -> None:
    table = services.db.table("set_writes_constants")
    with services.db.transaction() as cur:
        cur.execute(f"CREATE TABLE {table} (a TEXT, b BIGINT, c TEXT, d INTEGER)")
    with services.db.transaction() as cur:
        cur.executemany(f"INSERT INTO {table} VALUES (?,?,NULL,0)",
                        [(f"r{i}", i) for i in range(6)])
    with services.db.reading() as cur:
        found = cur.execute(f"SELECT * FROM {table} ORDER BY b").fetchall()
    assert [(r["a"], r["b"], r["c"], r["d"]) for r in found] == [
        (f"r{i}", i, None, 0) for i in range(6)]
