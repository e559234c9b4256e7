"""One projection worker beside a service of several uvicorn workers.

Each uvicorn worker is a process of its own. With the views inline, every worker ran a
runner over the same store: all but one read and decoded each batch, waited for the lock
of the views' positions, and found them moved on (and on SQLite they failed at once until
the view batch opened with a write). Measured with two workers on PostgreSQL (100 children,
4 visits each, bench/RESULTS.md, stop 17): 85–96 commands/s with one client and 123–157
with four, against 126–151 and 167–180 with one `qianshou project` beside workers that do
not run the views. So `qianshou serve --workers N` (N > 1) runs that worker itself, with a
spare beside it that takes over at once if it dies (Projector).
"""

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import structlog

from infra.logging import configure_logging
from infra.settings import Settings

log = structlog.get_logger("projector")
PR_SET_PDEATHSIG = 1  # prctl(2)
PR_SET_NAME = 15  # prctl(2): the name ps and top show (/proc/<pid>/comm), 15 bytes at most
RUNNING_NAME = b"qianshou-views"  # the worker that runs the views
SPARE_NAME = b"qianshou-spare"  # the worker that waits to take over

# A worker that dies is replaced at once by the spare. One that dies this soon after it took
# over is dying of something a restart does not mend (a database away, a bad setting): the
# next one then waits a pause that doubles from the first to the last, so a crash loop
# neither spins nor stops trying.
QUICK_DEATH_SECONDS = 10.0
FIRST_PAUSE_SECONDS, LAST_PAUSE_SECONDS = 1.0, 30.0
STOP_TIMEOUT_SECONDS = 15.0
GO = b"go\n"  # written to the spare's stdin: take over


def qianshou_command() -> list[str]:
    """The venv's `qianshou` script beside this interpreter (python -m infra.cli otherwise)."""
    script = Path(sys.executable).parent / "qianshou"
    return [str(script)] if script.exists() else [sys.executable, "-m", "infra.cli"]


def project_command() -> list[str]:
    """`qianshou project` run by this interpreter from this process's own copy of the code
    (its folder first on PYTHONPATH, see _spawn): the venv's `qianshou` script may import
    another checkout (an editable install), and the worker must run the service's code."""
    return [sys.executable, "-m", "infra.cli", "project"]


def restart_pause(quick_deaths: int) -> float:
    """How long to wait before the next worker takes over, after this many workers in a row
    died within QUICK_DEATH_SECONDS of taking over: none after one that ran a while."""
    if quick_deaths <= 0:
        return 0.0
    return float(min(FIRST_PAUSE_SECONDS * 2 ** (quick_deaths - 1), LAST_PAUSE_SECONDS))


class Projector:
    """Keeps one `qianshou project` process running the views until stop(), and a spare.

    Starting the worker is mostly importing Python (about 1 s of CPU here: the views, pypinyin's
    dictionaries, psycopg, argon2's dummy hash), and on a busy machine that took 10-15 s
    before the views moved again. So a second process is started beside the running one
    (`qianshou project --standby`): it imports everything, then waits on its stdin without
    touching the store. When the running worker dies, the spare is told to go at once and
    only connects and checks its tables; a new spare is started behind it.
    """

    def __init__(self, command: list[str] | None = None) -> None:
        self.command = command or project_command()
        self.process: subprocess.Popen[bytes] | None = None  # the one running the views
        self.spare: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._keep_running, name="projector",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _keep_running(self) -> None:
        quick_deaths = 0
        while not self._stopping.is_set():
            process, took_over = self._take_over(), time.monotonic()
            if self._stopping.is_set():
                return  # stop() ends it
            code = process.wait()
            if self._stopping.is_set():
                return
            quick_deaths = quick_deaths + 1 if (time.monotonic() - took_over
                                                < QUICK_DEATH_SECONDS) else 0
            pause = restart_pause(quick_deaths)
            log.warning("projector_exited", code=code, pid=process.pid, pause=pause)
            self._stopping.wait(pause)

    def _take_over(self) -> subprocess.Popen[bytes]:
        """The spare (or, if it is gone, a new worker) runs the views; a new spare waits."""
        process = self.spare if self.spare is not None and _tell(self.spare, GO) else None
        if process is None:
            _forget(self.spare)
            process = self._spawn(standby=False)
        self.process, self.spare = process, None
        self.starts += 1
        log.info("projector_started", pid=process.pid, starts=self.starts)
        if not self._stopping.is_set():
            self.spare = self._spawn(standby=True)
        return process

    def _spawn(self, standby: bool) -> subprocess.Popen[bytes]:
        # A session of its own: a Ctrl-C in the terminal stops uvicorn, which then stops
        # this worker, instead of reaching it first (it would be started again).
        code_root = str(Path(__file__).resolve().parents[1])
        path = os.pathsep.join(p for p in (code_root, os.environ.get("PYTHONPATH")) if p)
        return subprocess.Popen([*self.command, "--standby"] if standby else self.command,
                                stdin=subprocess.PIPE if standby else subprocess.DEVNULL,
                                env={**os.environ, "PYTHONPATH": path},
                                start_new_session=True, preexec_fn=_die_with_parent)

    def stop(self) -> None:
        self._stopping.set()
        _end(self.process, self.spare)
        self._thread.join(timeout=STOP_TIMEOUT_SECONDS)
        _end(self.process, self.spare)  # one the thread started while stop() began


def _end(process: subprocess.Popen[bytes] | None,
         spare: subprocess.Popen[bytes] | None) -> None:
    """The worker interrupted (`project` stops its runner and closes its pool) and the spare
    sent away, each killed if it has not left within STOP_TIMEOUT_SECONDS."""
    _forget(spare)
    if process is not None and process.poll() is None:
        process.send_signal(signal.SIGINT)
    for child in (process, spare):
        if child is not None:
            _wait_or_kill(child)


def _tell(process: subprocess.Popen[bytes], message: bytes) -> bool:
    """Writes to a spare's stdin and closes it; False if the spare is gone."""
    stdin: IO[bytes] | None = process.stdin
    if process.poll() is not None or stdin is None:
        return False
    try:
        stdin.write(message)
        stdin.close()
    except (BrokenPipeError, ValueError):
        return False
    return True


def _forget(spare: subprocess.Popen[bytes] | None) -> None:
    """A spare that will not be needed: closing its stdin makes it leave."""
    if spare is not None and spare.stdin is not None:
        try:
            spare.stdin.close()
        except BrokenPipeError:
            pass


def _wait_or_kill(process: subprocess.Popen[bytes]) -> None:
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def wait_for_go(stdin: IO[bytes]) -> bool:
    """In a spare: blocks until told to go (True) or until the supervisor closed the pipe
    or died (False)."""
    name_process(SPARE_NAME)
    told = stdin.readline() == GO
    if told:
        name_process(RUNNING_NAME)
    return told


def name_process(name: bytes) -> None:
    """The name ps and top show for this process, so the worker and its spare are told apart."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0)


@contextmanager
def views_beside(workers: int) -> Iterator[Projector | None]:
    """For several workers with the views inline: the workers without views (they inherit
    QIANSHOU_PROJECTIONS=off) and one projector beside them. Otherwise nothing changes."""
    settings = Settings()
    if workers <= 1 or settings.projections != "inline":
        yield None
        return
    configure_logging(settings.log_json, settings.log_level)  # the projector's own lines
    projector = Projector()
    os.environ["QIANSHOU_PROJECTIONS"] = "off"
    projector.start()
    try:
        yield projector
    finally:
        projector.stop()
        os.environ.pop("QIANSHOU_PROJECTIONS", None)


def _die_with_parent() -> None:
    """In the worker: SIGTERM when the service's process dies, even by kill -9 (Linux)."""
    if sys.platform == "linux":
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
