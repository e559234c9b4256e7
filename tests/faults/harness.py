"""The real service as a subprocess, a load of writers over HTTP, and what the store holds.

Every command of the load carries a marker `[k:<Idempotency-Key>]` in a free-text field, so
the events found in the store can be matched one to one with the commands sent.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from domain.actor import SYSTEM
from infra.services import Services, build_services
from infra.settings import Settings
from services import commands as c
from services.application import Qianshou
from tests.conftest import child_body

ROOT = Path(__file__).resolve().parents[2]
SECRET = "faults-secret-" + "x" * 32
ADMIN, PASSWORD = "admin", "Faults-pass-9x7q"
WHEN = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
MARKER = re.compile(r"\[k:([^\]]+)\]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_for(database_url: str) -> Settings:
    return Settings(database_url=database_url, secret_key=SECRET, log_json=True)


class Process:
    """One `qianshou` subprocess (serve or project), its log kept in a file."""

    def __init__(self, args: list[str], database_url: str, log: Path, **env: str) -> None:
        self.args, self.log = args, log
        self.env = {**os.environ, "QIANSHOU_DATABASE_URL": database_url,
                    "QIANSHOU_SECRET_KEY": SECRET, "QIANSHOU_LOG_JSON": "true",
                    "QIANSHOU_LOG_LEVEL": "WARNING", **env}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> "Process":
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([sys.executable, "-m", "infra.cli", *self.args],
                                         cwd=ROOT, env=self.env, stdout=out,
                                         stderr=subprocess.STDOUT)
        return self

    def kill9(self) -> None:
        """SIGKILL: no lifespan shutdown, no flush, no rollback but the database's own."""
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


class Server(Process):
    """`qianshou serve` on a free port."""

    def __init__(self, database_url: str, log: Path, workers: int = 1, **env: str) -> None:
        self.port = free_port()
        super().__init__(["serve", "--port", str(self.port), "--workers", str(workers)],
                         database_url, log, **env)
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> "Server":
        super().start()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None and self.proc.poll() is None, self.tail()
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"server not up after {timeout}s\n{self.tail()}")

    def token(self) -> str:
        response = httpx.post(f"{self.url}/auth/token", timeout=10,
                              data={"username": ADMIN, "password": PASSWORD})
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def wait_caught_up(self, timeout: float = 60) -> int:
        """Until /readyz says the views have every stored event; returns the position."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                body = httpx.get(f"{self.url}/readyz", timeout=10).json()
                if body.get("lag") == 0:
                    return int(body["position"])
            except (httpx.TransportError, ValueError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"views not caught up after {timeout}s\n{self.tail()}")


def make_admin(settings: Settings) -> None:
    services = build_services(settings)
    try:
        services.handlers.create_user(c.CreateUser(
            username=ADMIN, password=PASSWORD, agency="township", role="admin"), SYSTEM, None)
    finally:
        services.close()


@dataclass(frozen=True)
class Command:
    key: str
    path: str
    body: dict[str, Any]


def register_command(key: str) -> Command:
    body = child_body(name="载荷", reason=f"[k:{key}]")
    body.pop("id_number")  # a natural key would make the second registration a 409
    return Command(key, "/children", body)


def visit_command(key: str, child_id: str) -> Command:
    return Command(key, f"/children/{child_id}/visits",
                   {"occurred_at": WHEN, "kind": "home", "findings": f"[k:{key}]"})


@dataclass
class Load:
    """Writer threads, each sending commands with their own Idempotency-Key until stopped.

    Every fourth command registers a child, the others record visits on the given children.
    """

    url: str
    token: str
    children: list[str]
    writers: int = 6
    timeout: float = 15.0
    sent: dict[str, Command] = field(default_factory=dict)
    acknowledged: dict[str, int] = field(default_factory=dict)  # key -> position
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> 2xx body
    outcomes: Counter[str] = field(default_factory=Counter)  # status code or transport error
    slowest: float = 0.0
    slowest_outcome: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def command(self, writer: int, n: int) -> Command:
        key = f"w{writer}-{n}-{uuid.uuid4().hex[:6]}"
        if n % 4 == 3:
            return register_command(key)
        return visit_command(key, self.children[(writer + n) % len(self.children)])

    def start(self) -> "Load":
        for w in range(self.writers):
            thread = threading.Thread(target=self._write, args=(w,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.timeout + 5)

    def _write(self, writer: int) -> None:
        with self.client() as client:
            n = 0
            while not self._stop.is_set():
                self.send(client, self.command(writer, n))
                n += 1

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=self.timeout,
                            headers={"Authorization": f"Bearer {self.token}"})

    def send(self, client: httpx.Client, cmd: Command) -> int | None:
        """One attempt; returns the status, or None when the connection failed."""
        started = time.monotonic()
        status: int | None = None
        answer = None
        try:
            response = client.post(cmd.path, json=cmd.body, headers={"Idempotency-Key": cmd.key})
            status = response.status_code
            if 200 <= status < 300:
                answer = response.json()
        except httpx.TransportError as error:
            outcome = type(error).__name__
        else:
            outcome = str(status)
        with self._lock:
            self.sent[cmd.key] = cmd
            self.outcomes[outcome] += 1
            if time.monotonic() - started > self.slowest:
                self.slowest, self.slowest_outcome = time.monotonic() - started, outcome
            if answer is not None:
                self.acknowledged[cmd.key] = int(answer["position"])
                self.answers[cmd.key] = answer
        return status

    def wait_for_acks(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"{len(self.acknowledged)} acks: {self.outcomes}"
            time.sleep(0.02)

    def resend_unacknowledged(self, rounds: int = 20) -> None:
        """What a careful client does after an outage: resend each command, same key."""
        with self.client() as client:
            for _ in range(rounds):
                pending = [cmd for key, cmd in self.sent.items() if key not in self.acknowledged]
                if not pending:
                    return
                for cmd in pending:
                    self.send(client, cmd)
                time.sleep(0.2)
        raise AssertionError(f"still unacknowledged: {len(pending)} ({self.outcomes})")


def markers_in_store(settings: Settings) -> Counter[str]:
    """How many stored events carry each command's marker, read through the application.

    CREATE_TABLE=no keeps this reader from writing (creating tables), so it can run beside
    a live service on SQLite without waiting for the write lock.
    """
    app = Qianshou(env={**settings.persistence_env(), "CREATE_TABLE": "no"})
    try:
        found: Counter[str] = Counter()
        start = 1
        while batch := app.recorder.select_notifications(start, 1000):
            for notification in batch:
                # Decoded: the marker's free-text field is sealed in the stored bytes.
                event = app.mapper.to_domain_event(notification)
                found.update(MARKER.findall(str(vars(event))))
            start = batch[-1].id + 1
        return found
    finally:
        app.close()


def assert_exactly_once(load: Load, found: Counter[str], label: str) -> None:
    """Every acknowledged command is stored once; nothing is stored twice."""
    missing = [k for k in load.acknowledged if found[k] == 0]
    doubled = [k for k, n in found.items() if n > 1]
    print(f"\n{label}: sent {len(load.sent)}, acknowledged {len(load.acknowledged)}, "
          f"found {sum(found[k] == 1 for k in load.sent)} (stored once), "
          f"missing {len(missing)}, doubled {len(doubled)}, outcomes {dict(load.outcomes)}")
    assert not missing, f"acknowledged but not stored: {missing[:5]}"
    assert not doubled, f"stored more than once: {doubled[:5]}"


# Tables that are not views: the events and snapshots, keys, tracking, the read audit.
NOT_VIEWS = {"stored_events", "qianshou_events", "stored_snapshots", "qianshou_snapshots",
             "idempotency_keys", "tracking", "qianshou_tracking", "access_log", "auth_sessions"}


def view_tables(services: Services) -> dict[str, list[str]]:
    """Every view table's rows, as sorted text, so two states can be compared."""
    db = services.db
    with db.reading() as cur:
        if db.is_pg:
            names = [r["table_name"] for r in cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = ?",
                (db.datastore.schema,)).fetchall()]
        else:
            names = [r["name"] for r in cur.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()]
        views = sorted(n for n in names if n not in NOT_VIEWS and not n.startswith("sqlite_"))
        return {n: sorted(repr(sorted(row.items())) for row in
                          cur.execute(f"SELECT * FROM {db.table(n)}").fetchall())
                for n in views}


def assert_views_equal_rebuild(settings: Settings) -> dict[str, int]:
    """The views as the service left them equal the same views rebuilt from the events."""
    services = build_services(settings)
    try:
        assert services.runner.position == services.app.max_position()
        kept = view_tables(services)
        services.runner.rebuild()
        rebuilt = view_tables(services)
    finally:
        services.close()
    assert kept.keys() == rebuilt.keys()
    for name in kept:
        assert kept[name] == rebuilt[name], f"view table {name} differs from a fresh rebuild"
    rows = {name: len(rows) for name, rows in kept.items()}
    print(f"views equal a fresh rebuild: {len(rows)} tables, {sum(rows.values())} rows")
    return rows
