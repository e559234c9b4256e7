"""PostgreSQL stopped and started under load: 503 while away, recovery by itself, no loss."""

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.faults.harness import (Load, Server, assert_exactly_once, assert_views_equal_rebuild,
                                  make_admin, markers_in_store, register_command, settings_for)
from tests.faults.private_pg import PrivateCluster

pytestmark = pytest.mark.faults

CONNECT_TIMEOUT = 2  # QIANSHOU_PG_CONNECT_TIMEOUT_SECONDS: the bound on a request's wait
OUTAGE_SECONDS = 6


@pytest.fixture
def cluster() -> Iterator[PrivateCluster]:
    private = PrivateCluster().init().start()
    yield private
    private.remove()


def timed_get(url: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.get(url, timeout=30)
    return response, time.monotonic() - started


def test_database_away_is_503_and_the_service_recovers_by_itself(cluster: PrivateCluster,
                                                                 tmp_path: Path) -> None:
    settings = settings_for(cluster.url)
    make_admin(settings)
    server = Server(cluster.url, tmp_path / "serve.log",
                    QIANSHOU_PG_CONNECT_TIMEOUT_SECONDS=str(CONNECT_TIMEOUT)).start()
    try:
        token = server.token()
        load = Load(server.url, token, [], writers=4)
        with load.client() as client:
            load.send(client, register_command("first-child"))
        load.children = [str(a["id"]) for a in load.answers.values()]
        load.start()
        load.wait_for_acks(30)

        cluster.stop()
        down_at, acks_before = time.monotonic(), len(load.acknowledged)
        ready, ready_took = timed_get(f"{server.url}/readyz")
        with load.client() as client:
            started = time.monotonic()
            refused = client.post(f"/children/{load.children[0]}/visits", json={
                "occurred_at": "2025-10-08T10:00:00+08:00", "kind": "home", "findings": "x"})
            refused_took = time.monotonic() - started
        time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_at)))
        outcomes_while_down = dict(load.outcomes)

        cluster.start()
        up_at = time.monotonic()
        load.wait_for_acks(len(load.acknowledged) + 10, timeout=30)
        recovered_in = time.monotonic() - up_at
        load.stop()
        ready_after, _ = timed_get(f"{server.url}/readyz")
        print(f"\ndatabase away {OUTAGE_SECONDS}s: /readyz {ready.status_code} in "
              f"{ready_took:.1f}s, a POST {refused.status_code} in {refused_took:.1f}s, "
              f"slowest answer {load.slowest:.1f}s ({load.slowest_outcome}); "
              f"acknowledged before {acks_before}, "
              f"outcomes to then {outcomes_while_down}; commands succeed again "
              f"{recovered_in:.1f}s after the database is back; /readyz then "
              f"{ready_after.status_code}")
        assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
        assert ready_took < CONNECT_TIMEOUT + 3
        assert refused.status_code == 503 and refused.headers["Retry-After"]
        assert refused_took < CONNECT_TIMEOUT + 3
        assert set(load.outcomes) <= {"200", "201", "503"}, load.outcomes  # no 500, no hang
        assert load.outcomes["503"] > 0
        assert load.slowest < 2 * CONNECT_TIMEOUT + 3
        assert ready_after.status_code == 200

        load.resend_unacknowledged()
        assert_exactly_once(load, markers_in_store(settings), "PostgreSQL restarted under load")
        server.wait_caught_up()
    finally:
        server.stop()
    assert_views_equal_rebuild(settings)
