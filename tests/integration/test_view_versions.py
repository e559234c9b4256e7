"""A view whose shape changed (its `version`) is dropped and built again from the store."""

from uuid import uuid4

from bench.payload import registration_parts
from domain.actor import SYSTEM, current_actor
from domain.child import Child
from infra.services import build_services
from infra.settings import Settings


def _register(services: object, name: str) -> str:
    token = current_actor.set(SYSTEM)
    try:
        profile, guardian, parents = registration_parts(1)
        child = Child.register({**profile, "name": name}, guardian, parents, uuid4())
    finally:
        current_actor.reset(token)
    services.app.save(child)  # type: ignore[attr-defined]
    return str(child.id)


def test_a_store_built_by_an_older_contact_chain_is_built_again(settings: Settings) -> None:
    services = build_services(settings)
    try:
        child_id = _register(services, "王小丫")
        services.runner.catch_up()
        view = services.views["contact_chain"]
        # The store as version 1 left it: keys without places, no version recorded.
        with services.db.transaction() as cur:
            cur.execute(f"DROP TABLE {view.keys}")
            cur.execute(f"CREATE TABLE {view.keys} (child_id TEXT NOT NULL, kind TEXT NOT "
                        "NULL, key TEXT NOT NULL, PRIMARY KEY (child_id, kind, key))")
            cur.execute(f"INSERT INTO {view.keys} VALUES (?, 'name', 'stale')", (child_id,))
            cur.execute(f"UPDATE {services.db.table('view_versions')} SET version=NULL "
                        "WHERE name='contact_chain'")
    finally:
        services.close()

    again = build_services(settings)
    try:
        assert again.runner.positions["contact_chain"] == 0  # to be built from the start
        assert again.runner.positions["archive"] > 0  # the others are left as they were
        again.runner.catch_up()
        view = again.views["contact_chain"]
        with again.db.reading() as cur:
            assert view.lookup(cur, "王小丫", 10) == [child_id]
            assert view.lookup(cur, "stale", 10) == []
            assert view.lookup(cur, "王小丫", 10, ("township = ?", ["白沙关镇"])) == [child_id]
            assert view.lookup(cur, "王小丫", 10, ("township = ?", ["龙场镇"])) == []
            versions = cur.execute(f"SELECT version FROM {again.db.table('view_versions')} "
                                   "WHERE name='contact_chain'").fetchone()
        assert versions == {"version": view.version}
    finally:
        again.close()

    third = build_services(settings)  # nothing changed since: nothing is built again
    try:
        assert third.runner.positions["contact_chain"] > 0
    finally:
        third.close()


def _start(url: str, barrier: object, results: object) -> None:
    barrier.wait()  # type: ignore[attr-defined]
    try:
        build_services(Settings(database_url=url, secret_key="x" * 44, log_json=True)).close()
        results.put("ok")  # type: ignore[attr-defined]
    except Exception as error:  # noqa: BLE001 - reported to the test
        results.put(f"{type(error).__name__}: {error}")  # type: ignore[attr-defined]


def test_two_processes_starting_together_on_one_sqlite_file_both_start(tmp_path: object) -> None:
    """uvicorn's workers (or a CLI command beside a running service) build their services
    at the same moment: the start-up transaction opens with a write, which waits for the
    other's instead of failing with "database is locked" (5 starts of 16 did, before)."""
    import multiprocessing

    url = f"sqlite:///{tmp_path}/race.db"
    build_services(Settings(database_url=url, secret_key="x" * 44, log_json=True)).close()
    context = multiprocessing.get_context("fork")
    outcomes = []
    for _ in range(6):
        barrier, results = context.Barrier(2), context.Queue()
        starters = [context.Process(target=_start, args=(url, barrier, results))
                    for _ in range(2)]
        for process in starters:
            process.start()
        for process in starters:
            process.join(timeout=60)
        outcomes += [results.get(timeout=5), results.get(timeout=5)]
    assert outcomes == ["ok"] * 12
