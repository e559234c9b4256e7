"""`qianshou serve --workers 2`: real processes over one store. The views run in one
projection worker beside the uvicorn workers, which is started again if it dies, and leaves
with the service."""

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import child_body
from tests.faults.harness import Server, make_admin, settings_for


def _children_of(pid: int) -> dict[int, str]:
    """pid -> command line of every live process whose parent is pid."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found[int(entry.name)] = cmdline
    return found


def _projectors(pid: int) -> list[int]:
    return [p for p, cmd in _children_of(pid).items() if cmd.rstrip().endswith(" project")]


def _wait(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[Server]:
    make_admin(settings_for(database_url))
    server = Server(database_url, tmp_path / "serve.log", workers=2).start()
    try:
        yield server
    finally:
        server.stop()


def _register_and_read(client: httpx.Client, name: str) -> dict[str, Any]:
    answer = client.post("/children", json=child_body(name=name))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    file = client.get(f"/children/{body['id']}", params={"min_position": body["position"]})
    assert file.status_code == 200, file.text
    return file.json()  # type: ignore[no-any-return]


def test_two_workers_run_the_views_in_one_projector_started_again_if_it_dies(
        served: Server) -> None:
    assert served.proc is not None
    pid = served.proc.pid
    _wait(lambda: len(_projectors(pid)) == 1)
    first = _projectors(pid)[0]
    with httpx.Client(base_url=served.url, timeout=30,
                      headers={"Authorization": f"Bearer {served.token()}"}) as client:
        assert _register_and_read(client, "周一")["profile"]["name"] == "周一"
        os.kill(first, signal.SIGKILL)
        _wait(lambda: _projectors(pid) not in ([], [first]))
        assert len(_projectors(pid)) == 1
        assert _register_and_read(client, "周二")["profile"]["name"] == "周二"
    # The uvicorn workers run without the views: they were spawned with them off.
    workers = [p for p, cmd in _children_of(pid).items() if "multiprocessing" in cmd
               and "resource_tracker" not in cmd]
    assert len(workers) == 2
    for worker in workers:
        assert b"QIANSHOU_PROJECTIONS=off" in Path(f"/proc/{worker}/environ").read_bytes()
    second = _projectors(pid)[0]
    served.stop()
    _wait(lambda: not Path(f"/proc/{second}").exists(), 10)  # it left with the service
