"""A run of rows written as one statement (COPY, INSERT ... SELECT FROM unnest, an upsert's
merged rows, DELETE ... = ANY) leaves the same rows as one statement per row, on both stores
(SQLite always takes the per-row path, so there the two sides must agree trivially)."""

import random
from typing import Any

import pytest

from infra.services import Services
from infra.set_statements import DELETE_WHERE_ONE, UPSERT, UpsertPlan, copy_sql, delete_any_sql
from infra.set_statements import INSERT_OR_NOTHING, normalized, unnest_sql, upsert_plan

ROWS = [("c1", "2026-01", "visit", 3, None), ("c1", "2026-01", "visit", 3, None),
        ("c2", "2026-02", "feedback", None, "说明"), ("c3", "2026-03", "visit", 2**40, "x"),
        ("c4", "2026-04", "visit", -1, "引号 ' 和 \\ 反斜杠"), ("c5", "2026-05", "x", 0, "")]


def test_statements_are_rewritten_only_where_the_result_is_the_same() -> None:
    assert copy_sql("INSERT INTO t VALUES (?,?,?)") == "COPY t FROM STDIN"
    assert copy_sql("INSERT INTO t (a, b) VALUES (?,?)") == "COPY t (a, b) FROM STDIN"
    assert copy_sql("INSERT INTO t VALUES (?,?) ON CONFLICT DO NOTHING") is None
    assert copy_sql("INSERT INTO t VALUES (?,?,NULL)") is None
    columns = [("a", "text"), ("b", "bigint"), ("c", "text")]
    match = INSERT_OR_NOTHING.fullmatch("INSERT INTO t VALUES (?,?,NULL) ON CONFLICT DO NOTHING")
    assert match is not None
    assert unnest_sql(match, columns) == (
        "INSERT INTO t (a, b, c) SELECT u0, u1, NULL FROM unnest(%b::text[], %b::bigint[]) "
        "AS u(u0, u1) ON CONFLICT DO NOTHING")
    # An upsert that updates may meet one key twice in a run: never one statement.
    assert INSERT_OR_NOTHING.fullmatch(
        "INSERT INTO t VALUES (?,?) ON CONFLICT (a) DO UPDATE SET b=excluded.b") is None
    # A column count that does not match the table: left to executemany.
    short = INSERT_OR_NOTHING.fullmatch("INSERT INTO t VALUES (?,?)")
    assert short is not None and unnest_sql(short, columns) is None


def _table_rows(services: Services, table: str, order: str = "1, 2, 3, 4, 5"
                ) -> list[tuple[Any, ...]]:
    with services.db.reading() as cur:
        return [tuple(r.values()) for r in cur.execute(
            f"SELECT * FROM {table} ORDER BY {order}").fetchall()]


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


UPSERT_T = ("INSERT INTO t (k, first, n, note) VALUES (?,?,?,?) ON CONFLICT (k) DO UPDATE SET "
          "n=excluded.n, note=excluded.note")
T_COLUMNS = [("k", "text"), ("first", "bigint"), ("n", "bigint"), ("note", "text")]


def _plan(sql: str, unique_indexes: int = 1) -> UpsertPlan | None:
    match = UPSERT.fullmatch(normalized(sql))
    return None if match is None else upsert_plan(match, T_COLUMNS, unique_indexes)


def _delete_sql(sql: str) -> str | None:
    match = DELETE_WHERE_ONE.fullmatch(sql)
    return None if match is None else delete_any_sql(match, T_COLUMNS)


def test_only_upserts_that_set_each_column_from_its_new_value_are_merged() -> None:
    plan = _plan(UPSERT_T)
    assert plan is not None
    assert plan.sql == ("INSERT INTO t (k, first, n, note) SELECT u0, u1, u2, u3 FROM "
                        "unnest(%b::text[], %b::bigint[], %b::bigint[], %b::text[]) AS "
                        "u(u0, u1, u2, u3) ON CONFLICT (k) DO UPDATE SET n=excluded.n, "
                        "note=excluded.note")
    # The first row of a key keeps its columns that are not updated; the last row's win.
    assert plan.merge([("a", 1, 1, "x"), ("b", 2, 2, None), ("a", 3, 3, None)]) == [
        ["a", 1, 3, None], ["b", 2, 2, None]]
    assert plan.merge([(None, 1, 1, "x"), (None, 2, 2, "y")]) is None  # NULL keys never meet
    refused = [
        UPSERT_T.replace("n=excluded.n", "n=t.n+excluded.n"),  # adds to the stored value
        UPSERT_T.replace("n=excluded.n", "n=excluded.note"),  # from another column
        UPSERT_T + " WHERE t.n < excluded.n",  # only some rows update
        UPSERT_T.replace("(?,?,?,?)", "(?,?,?,0)"),  # a constant
        UPSERT_T.replace("(k)", "(nope)"),  # a key that is not a column
    ]
    for sql in refused:
        assert _plan(sql) is None, sql
    # Another unique index could refuse one row one by one that the merged run never meets.
    assert _plan(UPSERT_T, unique_indexes=2) is None
    assert _delete_sql("DELETE FROM t WHERE k=?") == (
        "DELETE FROM t WHERE k = ANY(%b::text[])")
    assert _delete_sql("DELETE FROM t WHERE k=? AND n=?") is None


def _two_tables(services: Services, name: str, ddl: str) -> list[str]:
    tables = [services.db.table(f"{name}_{side}") for side in ("one", "many")]
    with services.db.transaction() as cur:
        for table in tables:
            cur.execute(f"CREATE TABLE {table} ({ddl})")
    return tables


def _random_run(rng: random.Random) -> list[tuple[Any, ...]]:
    """Rows over few keys (so keys repeat), with NULLs, Chinese text and quotes."""
    notes = [None, "", "说明", "引号 ' 和 \\ 反斜杠", '{"a": [1, "二"]}']
    return [(rng.choice("abcdefg"), rng.randrange(10**6), rng.choice([None, rng.randrange(-9, 9)]),
             rng.choice(notes)) for _ in range(rng.randrange(4, 40))]


def test_an_upsert_run_leaves_what_its_rows_one_by_one_leave(services: Services) -> None:
    """Thirty random runs on tables that already hold some of the keys."""
    tables = _two_tables(services, "set_writes_upsert",
                         "k TEXT PRIMARY KEY, first BIGINT, n BIGINT, note TEXT")
    rng = random.Random(20261203)
    for _ in range(30):
        run = _random_run(rng)
        with services.db.transaction() as cur:
            cur.executemany(UPSERT_T.replace("INTO t", f"INTO {tables[0]}"), run)
            for row in run:
                cur.execute(UPSERT_T.replace("INTO t", f"INTO {tables[1]}"), row)
        assert _table_rows(services, tables[0], "1") == _table_rows(services, tables[1], "1")
    assert len(_table_rows(services, tables[0], "1")) == 7  # every key met at least once


def test_an_upsert_on_a_table_with_a_second_unique_index_is_sent_row_by_row(
        services: Services) -> None:
    """One by one the fourth row is refused by the second index; merged, it would not be."""
    table = services.db.table("set_writes_two_keys")
    with services.db.transaction() as cur:
        cur.execute(f"CREATE TABLE {table} (k TEXT PRIMARY KEY, u TEXT UNIQUE, n BIGINT)")
    sql = (f"INSERT INTO {table} (k, u, n) VALUES (?,?,?) ON CONFLICT (k) DO UPDATE SET "
           "u=excluded.u, n=excluded.n")
    rows = [("a", "x", 1), ("b", "y", 2), ("c", "z", 3), ("a", "y", 4), ("a", "w", 5)]
    with pytest.raises(Exception, match="(?i)unique"):
        with services.db.transaction() as cur:
            cur.executemany(sql, rows)
    assert _table_rows(services, table, "1") == []  # nothing half-written


def test_a_delete_run_removes_what_its_rows_one_by_one_remove(services: Services) -> None:
    tables = _two_tables(services, "set_writes_delete", "k TEXT, n BIGINT")
    rows = [(k, n) for k in "abcdef" for n in range(3)]
    gone = [("a",), ("c",), ("a",), ("zz",), ("f",), (None,)]
    with services.db.transaction() as cur:
        for table in tables:
            cur.executemany(f"INSERT INTO {table} VALUES (?,?)", rows)
        cur.executemany(f"DELETE FROM {tables[0]} WHERE k=?", gone)
        for row in gone:
            cur.execute(f"DELETE FROM {tables[1]} WHERE k=?", row)
    left = _table_rows(services, tables[0], "1, 2")
    assert left == _table_rows(services, tables[1], "1, 2")
    assert {k for k, _ in left} == set("bde")
