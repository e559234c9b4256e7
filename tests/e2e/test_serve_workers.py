"""`qianshou serve --workers 2`: real processes over one store. The views run in one
projection worker beside the uvicorn workers, which is started again if it dies, and leaves
with the service."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from domain.actor import SYSTEM
from infra.services import build_services
from infra.settings import Settings
from services import commands as c
from tests.conftest import ADMIN_PASSWORD, child_body

QIANSHOU = Path(sys.executable).parent / "qianshou"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


def _wait(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    services = build_services(settings)
    services.handlers.create_user(c.CreateUser(username="admin", password=ADMIN_PASSWORD,
                                               agency="township", role="admin"), SYSTEM, None)
    services.close()
    port = _free_port()
    env = {**os.environ, "QIANSHOU_DATABASE_URL": settings.database_url,
           "QIANSHOU_SECRET_KEY": settings.secret_key or "", "QIANSHOU_LOG_JSON": "true"}
    env.pop("QIANSHOU_PROJECTIONS", None)
    process = subprocess.Popen([str(QIANSHOU), "serve", "--port", str(port), "--workers", "2"],
                               env=env, start_new_session=True)
    base = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    try:
        _wait(ready, 60)
        yield process, base
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _register_and_read(client: httpx.Client, name: str) -> dict:  # type: ignore[type-arg]
    answer = client.post("/children", json=child_body(name=name))
    assert answer.status_code == 201, answer.text
    body = answer.json()
    file = client.get(f"/children/{body['id']}", params={"min_position": body["position"]})
    assert file.status_code == 200, file.text
    return file.json()  # type: ignore[no-any-return]


def test_two_workers_run_the_views_in_one_projector_started_again_if_it_dies(
        served: tuple[subprocess.Popen[bytes], str]) -> None:
    process, base = served
    _wait(lambda: len(_projectors(process.pid)) == 1)
    first = _projectors(process.pid)[0]
    token = httpx.post(f"{base}/auth/token", data={"username": "admin",
                                                   "password": ADMIN_PASSWORD}).json()
    with httpx.Client(base_url=base, timeout=30,
                      headers={"Authorization": f"Bearer {token['access_token']}"}) as client:
        assert _register_and_read(client, "周一")["profile"]["name"] == "周一"
        os.kill(first, signal.SIGKILL)
        _wait(lambda: _projectors(process.pid) not in ([], [first]))
        assert len(_projectors(process.pid)) == 1
        assert _register_and_read(client, "周二")["profile"]["name"] == "周二"
    # The uvicorn workers run without the views: they were spawned with them off.
    workers = [p for p, cmd in _children_of(process.pid).items() if "multiprocessing" in cmd
               and "resource_tracker" not in cmd]
    assert len(workers) == 2
    for pid in workers:
        assert b"QIANSHOU_PROJECTIONS=off" in Path(f"/proc/{pid}/environ").read_bytes()
    second = _projectors(process.pid)[0]
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=20)
    _wait(lambda: not Path(f"/proc/{second}").exists(), 10)  # it left with the service
