"""`qianshou serve` as a subprocess on a bench store, and HTTP clients signed in to it."""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench import payload
from bench.keepalive import KeepAlive
from bench.stores import SECRET, settings_for
from domain.actor import SYSTEM
from domain.user import user_id_for
from infra.projector import qianshou_command
from infra.services import build_services
from services import commands as c

ADMIN, PASSWORD = "bench-admin", "qianshou-bench-1"
START_TIMEOUT = 60.0
PR_SET_PDEATHSIG = 1  # linux/prctl.h


@dataclass(frozen=True)
class Server:
    """A running `qianshou serve`: where it answers and the pid of its first process."""

    base_url: str
    pid: int
    workers: int


def _die_with_parent() -> None:
    """In the server's child process: SIGTERM when the bench dies (a `timeout`, a crash), so
    no server outlives it; it runs in a session of its own, out of reach of the bench's group."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare_store(url: str) -> None:
    """Tables and an admin user, created before the server starts (as tests/conftest.py does);
    a store prepared before (a generated one, served again) keeps its admin."""
    services = build_services(settings_for(url))
    try:
        if not services.app.exists(user_id_for(ADMIN)):
            services.handlers.create_user(c.CreateUser(
                username=ADMIN, password=PASSWORD, agency="township", role="admin"),
                SYSTEM, None)
    finally:
        services.close()


def server_env(url: str) -> dict[str, str]:
    settings = settings_for(url)
    return {**os.environ, "QIANSHOU_DATABASE_URL": url, "QIANSHOU_SECRET_KEY": SECRET,
            "QIANSHOU_PG_POOL_SIZE": str(settings.pg_pool_size), "QIANSHOU_LOG_JSON": "true",
            "QIANSHOU_LOG_LEVEL": "WARNING"}


def _wait_ready(base_url: str, process: subprocess.Popen[bytes], log: Path,
                timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"qianshou serve exited {process.returncode}: "
                               f"{log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"qianshou serve not ready after {timeout} s")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server (uvicorn stops its workers), SIGKILL to its group if it hangs."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@contextmanager
def serve(url: str, workers: int = 1, start_timeout: float = START_TIMEOUT) -> Iterator[Server]:
    """Prepare the store, start `qianshou serve --workers N`, stop it afterwards (a large
    store's first connection takes a while: give it a longer start_timeout)."""
    prepare_store(url)
    port = _free_port()
    tmp = Path(tempfile.mkdtemp(prefix="qianshou-serve-"))
    log = tmp / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*qianshou_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            env=server_env(url), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=_die_with_parent)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base_url, process, log, start_timeout)
        yield Server(base_url, process.pid, workers)
    finally:
        _stop(process)
        shutil.rmtree(tmp, ignore_errors=True)


def token(base_url: str, username: str = ADMIN, password: str = PASSWORD) -> str:
    response = httpx.post(f"{base_url}/auth/token", timeout=30,
                          data={"username": username, "password": password})
    response.raise_for_status()
    return str(response.json()["access_token"])


child_body = payload.child_body


class HttpWorkload:
    """POST /children and POST /children/{id}/visits, one keep-alive connection per thread
    (and an httpx client per thread for the reads beside them, in the soak and lag benches)."""

    name = "http"

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.token = token(base_url)
        self.headers = {"Authorization": f"Bearer {self.token}"}
        self._local = threading.local()
        self._clients: list[httpx.Client] = []
        self._keep_alives: list[KeepAlive] = []
        self._lock = threading.Lock()

    def client(self) -> httpx.Client:
        found: httpx.Client | None = getattr(self._local, "client", None)
        if found is None:
            found = httpx.Client(base_url=self.base_url, headers=self.headers, timeout=60)
            self._local.client = found
            with self._lock:
                self._clients.append(found)
        return found

    def keep_alive(self) -> KeepAlive:
        """This thread's http.client connection: the commands are timed through it, since
        httpx's own work per request shares the cores with the server (bench/keepalive.py)."""
        found: KeepAlive | None = getattr(self._local, "keep_alive", None)
        if found is None:
            found = self._local.keep_alive = KeepAlive(self.base_url, self.token)
            with self._lock:
                self._keep_alives.append(found)
        return found

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.keep_alive().post(path, body)
        if response.status not in (200, 201):
            raise RuntimeError(f"POST {path}: {response.status} {response.text[:300]}")
        return response.json()  # type: ignore[no-any-return]

    def register(self, n: int) -> None:
        self.post("/children", child_body(n))

    def visit(self, n: int, k: int) -> None:
        self.post(f"/children/{payload.child_id(n)}/visits", payload.visit_body(k))

    def close(self) -> None:
        for client in self._clients:
            client.close()
        for connection in self._keep_alives:
            connection.close()
