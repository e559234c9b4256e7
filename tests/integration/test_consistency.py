"""Concurrency, idempotency races and exactly-once projection, on both stores."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.actor import SYSTEM
from infra.services import Services, build_services
from infra.settings import Settings
from projections.runner import ProjectionRunner
from services import commands as c
from services.idempotency import IdempotencyRequest
from tests.conftest import Api, child_body, register

WHEN = (datetime.now(UTC) - timedelta(hours=1)).isoformat()


def test_24_concurrent_writers_on_one_child_lose_nothing(api: Api) -> None:
    child = register(api)

    def write(n: int) -> int:
        response = api.post(f"/children/{child['id']}/visits",
                            {"occurred_at": WHEN, "kind": "home", "findings": f"第{n}次走访"})
        assert response.status_code == 200, response.text
        return response.json()["position"]  # type: ignore[no-any-return]

    with ThreadPoolExecutor(24) as pool:
        positions = list(pool.map(write, range(24)))
    assert len(set(positions)) == 24
    file = api.get(f"/children/{child['id']}", min_position=max(positions)).json()
    findings = sorted(e["data"]["findings"] for e in file["timeline"]
                      if e["type"] == "VisitRecorded")
    print(f"\nsent 24, acknowledged {len(positions)}, found {len(findings)}")
    assert findings == sorted(f"第{n}次走访" for n in range(24))


def test_racing_replays_of_one_idempotency_key_record_once(services: Services) -> None:
    cmd = c.RegisterChild.model_validate(child_body())
    idem = IdempotencyRequest.of("admin", "same-key", "POST", "/children", child_body())
    barrier = threading.Barrier(8)

    def send(_: int) -> Any:
        barrier.wait()
        return services.handlers.register_child(cmd, SYSTEM, idem)

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(send, range(8)))
    assert len({a.body["id"] for a in answers}) == 1
    assert len({a.position for a in answers}) == 1
    notifications = services.app.recorder.select_notifications(1, 100)
    # One registration: the child's Registered event and its ID number's claim.
    assert [n.topic.rsplit(".", 1)[-1] for n in notifications] == ["Registered", "Claimed"]


def test_read_your_writes_through_min_position(api: Api) -> None:
    for n in range(5):
        created = register(api, name=f"王小{'一二三四五'[n]}")
        found = api.get("/children", min_position=created["position"]).json()["items"]
        assert created["id"] in [i["child_id"] for i in found]


class CrashingView:
    """Wraps a view and dies at the n-th event, as a killed runner would mid-batch."""

    def __init__(self, view: Any, crash_at: int) -> None:
        self.view, self.name, self.crash_at, self.seen = view, view.name, crash_at, 0

    def create_tables(self, cur: Any) -> None:
        self.view.create_tables(cur)

    def reset(self, cur: Any) -> None:
        self.view.reset(cur)

    def apply(self, cur: Any, position: int, event: Any) -> None:
        self.seen += 1
        if self.seen == self.crash_at:
            raise KeyboardInterrupt("killed between events")
        self.view.apply(cur, position, event)


def dump(services: Services) -> dict[str, list[Any]]:
    tables = ["archive_files", "archive_timeline", "registry_children"]
    with services.db.reading() as cur:
        return {t: cur.execute(f"SELECT * FROM {services.db.table(t)} ORDER BY 1, 2")
                .fetchall() for t in tables}


def test_projection_restart_resumes_exactly_once(services: Services) -> None:
    h = services.handlers
    for n in range(6):
        created = h.register_child(c.RegisterChild.model_validate(child_body(name=f"李{n}")),
                                   SYSTEM, None)
        child_id = created.body["id"]
        for _ in range(4):
            h.change_child(__import__("uuid").UUID(child_id), "child.visit",
                           lambda ch: ch.record_visit(datetime.now(UTC), "phone", "好", False, []),
                           SYSTEM, None)
    views = [CrashingView(services.archive, 13), CrashingView(services.registry, 21)]
    crashing = ProjectionRunner(services.app, services.db, views, batch_size=5)
    try:
        crashing.catch_up()
    except KeyboardInterrupt:
        pass
    assert 0 < services.db.position("archive") < services.app.max_position()
    ProjectionRunner(services.app, services.db, [services.archive, services.registry]).catch_up()
    resumed = dump(services)
    assert len(resumed["archive_timeline"]) == 30
    services.runner.rebuild()
    assert dump(services) == resumed


def test_the_runners_of_two_processes_never_fail_a_batch(services: Services,
                                                        settings: Settings) -> None:
    """Two uvicorn workers each run the views over one store. A batch that lost the race
    must wait for the other's and find the views moved on, not fail: on SQLite a batch that
    read the positions before the other committed could not then write ("database is
    locked" at once, 10 of 500 commands with 2 workers), and the runner slept 0.1 s."""
    other = build_services(settings)  # its own pool, as another process's
    failures: list[BaseException] = []
    stop = threading.Event()

    def run(runner: ProjectionRunner) -> None:
        while not stop.is_set():
            try:
                runner.catch_up()
            except Exception as error:  # noqa: BLE001 - counted: the assertion is that none
                failures.append(error)

    threads = [threading.Thread(target=run, args=(s.runner,)) for s in (services, other)]
    for t in threads:
        t.start()
    try:
        for n in range(60):
            services.handlers.register_child(c.RegisterChild.model_validate(
                child_body(name=f"钱{n}")), SYSTEM, None)
        deadline = time.monotonic() + 60
        while min(services.db.positions([v.name for v in services.runner.views]).values()
                  ) < services.app.max_position() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        for t in threads:
            t.join()
        other.close()
    assert failures == []
    assert len(dump(services)["archive_files"]) == 60


def test_two_runners_racing_apply_each_event_once(services: Services) -> None:
    h = services.handlers
    ids = [h.register_child(c.RegisterChild.model_validate(child_body(name=f"赵{n}")), SYSTEM,
                            None).body["id"] for n in range(4)]
    views = [services.archive, services.registry]
    runners = [ProjectionRunner(services.app, services.db, views, batch_size=size)
               for size in (3, 7)]
    stop = threading.Event()

    def run(runner: ProjectionRunner) -> None:
        while not stop.is_set():
            try:
                runner.catch_up()
            except Exception:  # noqa: BLE001 - a lost race (locked/busy) is retried, as live
                pass

    threads = [threading.Thread(target=run, args=(r,)) for r in runners]
    for t in threads:
        t.start()
    import uuid
    for n in range(40):
        h.change_child(uuid.UUID(ids[n % 4]), "child.visit",
                       lambda ch: ch.record_visit(datetime.now(UTC), "phone", "好", False, []),
                       SYSTEM, None)
    while services.db.position("registry") < services.app.max_position():
        pass
    stop.set()
    for t in threads:
        t.join()
    raced = dump(services)
    assert len(raced["archive_timeline"]) == 44
    services.runner.rebuild()
    assert dump(services) == raced
