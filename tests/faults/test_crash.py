"""kill -9 of the service mid-load and of the projection worker mid-batch, on both stores."""

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest

from domain.actor import SYSTEM
from infra.services import build_services
from infra.settings import Settings
from services import commands as c
from tests.conftest import child_body
from tests.faults.harness import (Load, Process, Server, assert_exactly_once,
                                  assert_views_equal_rebuild, make_admin, markers_in_store,
                                  register_command, settings_for)

pytestmark = pytest.mark.faults


def register_children(server: Server, token: str, count: int) -> list[str]:
    load = Load(server.url, token, [])
    with load.client() as client:
        for n in range(count):
            assert load.send(client, register_command(f"child-{n}")) == 201
    return [str(answer["id"]) for answer in load.answers.values()]


def test_service_killed_mid_load_loses_no_acknowledged_command(database_url: str,
                                                               tmp_path: Path) -> None:
    settings = settings_for(database_url)
    make_admin(settings)
    server = Server(database_url, tmp_path / "serve.log").start()
    try:
        token = server.token()
        load = Load(server.url, token, register_children(server, token, 4), writers=6).start()
        load.wait_for_acks(60)
        server.kill9()
        load.stop()
        assert_exactly_once(load, markers_in_store(settings),
                            f"serve killed -9 mid-load ({database_url.split(':')[0]})")
        cut = load.outcomes["RemoteProtocolError"] + load.outcomes["ReadError"]
        assert cut > 0, "the kill cut no request mid-flight"

        server.start()
        load.resend_unacknowledged()  # the clients retry what they never heard back about
        found = markers_in_store(settings)
        assert_exactly_once(load, found, "after restart, every unanswered command resent")
        assert all(found[key] == 1 for key in load.sent)
        server.wait_caught_up()
    finally:
        server.stop()
    assert_views_equal_rebuild(settings)


def write_directly(settings: Settings, children: int, visits: int) -> int:
    """Events written in this process, fast, for a worker to project; returns the head."""
    services = build_services(settings)
    try:
        h = services.handlers
        for n in range(children):
            answer = h.register_child(c.RegisterChild.model_validate(
                child_body(name=f"投影{n}", id_number=None)), SYSTEM, None)
            for v in range(visits):
                h.change_child(UUID(answer.body["id"]), "child.visit",
                               lambda ch, v=v: ch.record_visit(datetime.now(UTC), "phone",
                                                               f"第{v}次", False, []),
                               SYSTEM, None)
        return services.app.max_position()
    finally:
        services.close()


class Positions:
    """Reads the views' tracking positions from the test process (read-only)."""

    def __init__(self, settings: Settings) -> None:
        self.services = build_services(settings)  # creates the tables: before the worker runs

    def now(self) -> dict[str, int]:
        return {view.name: self.services.db.position(view.name)
                for view in self.services.runner.views}

    def wait(self, done: Callable[[dict[str, int]], bool], timeout: float = 60) -> dict[str, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            positions = self.now()
            if done(positions):
                return positions
            time.sleep(0.005)
        raise AssertionError(f"views stuck at {self.now()}")

    def close(self) -> None:
        self.services.close()


def test_projection_worker_killed_mid_batch_resumes_exactly_once(database_url: str,
                                                                 tmp_path: Path) -> None:
    settings = settings_for(database_url)
    head = write_directly(settings, children=30, visits=39)  # 1,200 events: 2 batches
    positions = Positions(settings)
    worker = Process(["project"], database_url, tmp_path / "project.log").start()
    try:
        # Kill as soon as one view has committed a batch: the others are mid-round.
        positions.wait(lambda p: max(p.values()) > 0)
        worker.kill9()
        after_kill = positions.now()
        print(f"\nprojector killed -9: head {head}, views at {sorted(set(after_kill.values()))}")
        assert min(after_kill.values()) < head, "the worker finished before the kill"

        worker.start()
        positions.wait(lambda p: min(p.values()) == head)
    finally:
        worker.stop()
        positions.close()
    rows = assert_views_equal_rebuild(settings)
    assert rows["archive_timeline"] == head
