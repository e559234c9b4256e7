"""`qianshou serve --workers 2`: real processes over one store. The views run in one
projection worker beside the uvicorn workers, with a spare that takes over at once if it
dies, and both leave with the service.

No bound here is how fast an idle machine was: every wait ends as soon as its condition
holds, fails at once if the process it waits on has died, and otherwise gives up only after
DEADLINE seconds, far beyond what a busy 2-core machine needs (the server came up in 60 s
and more under load). What the code promises is checked as such: a read with min_position
answers 200 or 503 with Retry-After within the settings' wait timeout, and the spare (not
a worker started cold) is the one that takes over.
"""

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from infra.projector import RUNNING_NAME, SPARE_NAME
from infra.settings import Settings
from tests.conftest import child_body
from tests.faults.harness import Server, make_admin, settings_for

DEADLINE = 300.0  # seconds: only a hung or broken service gets here
WAIT_TIMEOUT = Settings().wait_timeout_seconds  # how long a read waits for the views
HTTP_SLACK = 30.0  # on top of the wait, for a request that queues on a busy machine


def _children_of(pid: int) -> dict[int, tuple[str, str]]:
    """pid -> (name as ps shows it, command line) of every live process whose parent is pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            name = (entry / "comm").read_text().strip()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(entry.name)] = (name, cmdline)
    return found


def _named(pid: int, name: bytes) -> list[int]:
    """The children that named themselves so (infra/projector.py name_process)."""
    return [p for p, (comm, _) in _children_of(pid).items() if comm == name.decode()]


def _wait(condition: Callable[[], bool], alive: Callable[[], bool], what: str) -> None:
    """Until condition(); fails as soon as alive() is False, or after DEADLINE."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert alive(), f"{what}: the process it waits on has died"
        assert time.monotonic() < deadline, f"{what}: not in {DEADLINE} s"
        time.sleep(0.05)


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Server]:
    make_admin(settings_for(database_url))
    # Server.start fails at once if `serve` exits; DEADLINE only bounds a hung start.
    server = Server(database_url, tmp_path / "serve.log", workers=2).start(timeout=DEADLINE)
    try:
        yield server
    finally:
        server.stop()


def _register_and_read(client: httpx.Client, name: str,
                       projector_alive: Callable[[], bool]) -> dict[str, Any]:
    """Register a child, then read its file back through the views (min_position), as a
    client told to come back: a 503 must carry Retry-After and is asked again after it,
    while the projector that must get there is alive."""
    answer = client.post("/children", json=child_body(name=name))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    began = time.monotonic()
    deadline, refused = began + DEADLINE, 0
    while True:
        asked = time.monotonic()
        file = client.get(f"/children/{body['id']}", params={"min_position": body["position"]})
        if file.status_code == 200:
            print(f"{name}: read back after {time.monotonic() - began:.1f} s, {refused} x 503")
            return file.json()  # type: ignore[no-any-return]
        refused += 1
        # Not caught up within the wait: 503 + Retry-After, and not much after the wait.
        assert file.status_code == 503, file.text
        assert time.monotonic() - asked < WAIT_TIMEOUT + HTTP_SLACK
        retry_after = float(file.headers["Retry-After"])
        assert projector_alive(), "the projector died while the read waited for it"
        assert time.monotonic() < deadline, f"the views did not get there in {DEADLINE} s"
        time.sleep(retry_after)


def test_two_workers_run_the_views_in_one_projector_with_a_spare_that_takes_over(
        served: Server) -> None:
    assert served.proc is not None
    pid = served.proc.pid

    def serving() -> bool:
        return served.proc is not None and served.proc.poll() is None

    def running_is(worker: int) -> Callable[[], bool]:
        return lambda: Path(f"/proc/{worker}").exists() and serving()

    _wait(lambda: len(_named(pid, RUNNING_NAME)) == 1 and len(_named(pid, SPARE_NAME)) == 1,
          serving, "one projector and one spare")
    [first], [spare] = _named(pid, RUNNING_NAME), _named(pid, SPARE_NAME)
    with httpx.Client(base_url=served.url, timeout=WAIT_TIMEOUT + HTTP_SLACK,
                      headers={"Authorization": f"Bearer {served.token()}"}) as client:
        assert _register_and_read(client, "周一", running_is(first))["profile"]["name"] == "周一"
        os.kill(first, signal.SIGKILL)
        # The spare, already imported, takes over: no cold start, no pause.
        _wait(lambda: _named(pid, RUNNING_NAME) == [spare], serving, "the spare taking over")
        assert _register_and_read(client, "周二", running_is(spare))["profile"]["name"] == "周二"
        _wait(lambda: len(_named(pid, SPARE_NAME)) == 1, serving, "a new spare")
        assert _named(pid, RUNNING_NAME) == [spare]  # still exactly one runs the views
    # The uvicorn workers run without the views: they were spawned with them off.
    workers = [p for p, (_, cmd) in _children_of(pid).items() if "multiprocessing" in cmd
               and "resource_tracker" not in cmd]
    assert len(workers) == 2
    for worker in workers:
        assert b"QIANSHOU_PROJECTIONS=off" in Path(f"/proc/{worker}/environ").read_bytes()
    [second_spare] = _named(pid, SPARE_NAME)
    served.stop()
    for left in (spare, second_spare):  # they left with the service
        _wait(lambda: not Path(f"/proc/{left}").exists(), lambda: True, "the projector leaving")
