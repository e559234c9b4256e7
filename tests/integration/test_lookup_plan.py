"""The lookup of a caller bound to a place reads only that place's keys (SQLite's plan).

With the place tested on the entries of the key index, a class teacher's two-letter search
walked every key of the county under those letters to find the class's few (7.9 ms for a
village's "zh" at 100,000 children; 0.12 ms from the township index). PostgreSQL's plan
depends on its statistics, so bench/reads.py measures it there, at scale."""

import sqlite3

import pytest

from infra.services import build_services
from infra.settings import Settings

CALLERS = {
    "admin": (None, "lookup_keys_key"),
    "township_supervisor": (("township = ?", ["白沙关镇"]), "lookup_keys_township"),
    "grid_worker": (("township = ? AND village = ?", ["白沙关镇", "白沙关村"]),
                    "lookup_keys_township"),
    "principal": (("school = ?", ["白沙关小学"]), "lookup_keys_school"),
    "class_teacher": (("school = ? AND class_name = ?", ["白沙关小学", "六(2)班"]),
                      "lookup_keys_school"),
}


@pytest.mark.parametrize("role", sorted(CALLERS))
def test_each_half_of_the_search_reads_one_covering_index_of_the_callers_place(
        role: str, tmp_path: object) -> None:
    path = f"{tmp_path}/plan.db"
    services = build_services(Settings(database_url=f"sqlite:///{path}", secret_key="x" * 44,
                                       log_json=True))
    try:
        within, index = CALLERS[role]
        sql, params = services.views["contact_chain"].lookup_statement("zh", 10, within)
        with sqlite3.connect(path) as conn:
            plan = [row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    finally:
        services.close()
    searches = [step for step in plan if "lookup_keys" in step or " k " in f" {step} "]
    assert len(searches) == 2, plan
    assert all(f"COVERING INDEX {index} " in step for step in searches), plan
