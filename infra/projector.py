"""One projection worker beside a service of several uvicorn workers.

Each uvicorn worker is a process of its own. With the views inline, every worker ran a
runner over the same store: all but one read and decoded each batch, waited for the lock
of the views' positions, and found them moved on (and on SQLite they failed at once until
the view batch opened with a write). Measured with two workers on PostgreSQL (100 children,
4 visits each, bench/RESULTS.md, stop 17): 85–96 commands/s with one client and 123–157
with four, against 126–151 and 167–180 with one `qianshou project` beside workers that do
not run the views. So `qianshou serve --workers N` (N > 1) runs that worker itself.
"""

import ctypes
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

from infra.logging import configure_logging
from infra.settings import Settings

log = structlog.get_logger("projector")
PR_SET_PDEATHSIG = 1  # prctl(2)

RESTART_PAUSE_SECONDS = 1.0  # after the worker died, before it is started again
STOP_TIMEOUT_SECONDS = 15.0


def qianshou_command() -> list[str]:
    """The venv's `qianshou` script beside this interpreter (python -m infra.cli otherwise)."""
    script = Path(sys.executable).parent / "qianshou"
    return [str(script)] if script.exists() else [sys.executable, "-m", "infra.cli"]


class Projector:
    """Keeps one `qianshou project` process running until stop(); restarts it if it dies."""

    def __init__(self, command: list[str] | None = None) -> None:
        self.command = command or [*qianshou_command(), "project"]
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._keep_running, name="projector",
                                        daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _keep_running(self) -> None:
        while not self._stopping.is_set():
            # A session of its own: a Ctrl-C in the terminal stops uvicorn, which then stops
            # this worker, instead of reaching it first (it would be started again).
            self.process = subprocess.Popen(self.command, start_new_session=True,
                                            preexec_fn=_die_with_parent)
            self.starts += 1
            log.info("projector_started", pid=self.process.pid, starts=self.starts)
            code = self.process.wait()
            if self._stopping.is_set():
                return
            log.warning("projector_exited", code=code)
            self._stopping.wait(RESTART_PAUSE_SECONDS)

    def stop(self) -> None:
        self._stopping.set()
        process = self.process
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)  # `project` stops its runner, closes its pool
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._thread.join(timeout=STOP_TIMEOUT_SECONDS)


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
