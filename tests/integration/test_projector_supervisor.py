"""The supervisor of `serve --workers` (infra/projector.py) with a stand-in worker: a dead
worker is replaced at once by the spare, a new spare waits behind it, a crash loop backs
off, and stop() ends both. The real worker is exercised by tests/e2e/test_serve_workers.py.

Waits end when their condition holds and give up only after DEADLINE (a hung supervisor).
"""

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from infra import projector
from infra.projector import QUICK_DEATH_SECONDS, Projector, restart_pause

DEADLINE = 120.0

# Behaves like `qianshou project [--standby]`: a spare waits for "go" on stdin (and leaves
# on end of file); a running worker runs until SIGINT.
STAND_IN = """
import signal, sys, time
signal.signal(signal.SIGINT, lambda *_: sys.exit(0))
if "--standby" in sys.argv and sys.stdin.buffer.readline() != b"go\\n":
    sys.exit(0)
while True:
    time.sleep(1)
"""


def _wait(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not in {DEADLINE} s"
        time.sleep(0.02)


@pytest.fixture
def supervisor() -> Iterator[Projector]:
    supervised = Projector([sys.executable, "-c", STAND_IN])
    supervised.start()
    yield supervised
    supervised.stop()


def _ready(p: Projector) -> bool:
    return p.process is not None and p.spare is not None


def _catches_sigint(pid: int) -> bool:
    """The process has installed its SIGINT handler (Linux: the SigCgt mask). Before that, a
    SIGINT can be lost: a test runner's workers ignore it, and a child inherits that."""
    try:
        status = open(f"/proc/{pid}/status").read()
    except FileNotFoundError:
        return False
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & (1 << (signal.SIGINT - 1)))


def test_the_spare_takes_over_at_once_and_a_new_spare_waits(supervisor: Projector) -> None:
    _wait(lambda: _ready(supervisor), "a worker and a spare")
    assert supervisor.process is not None and supervisor.spare is not None
    first, spare = supervisor.process, supervisor.spare
    os.kill(first.pid, signal.SIGKILL)
    _wait(lambda: supervisor.process is not first, "a new worker")
    assert supervisor.process is spare  # the spare, not a worker started cold
    assert supervisor.starts == 2
    _wait(lambda: supervisor.spare is not None, "a new spare")
    assert spare.poll() is None  # the spare got "go": it runs instead of leaving


def test_stop_ends_the_worker_and_sends_the_spare_away(supervisor: Projector) -> None:
    _wait(lambda: _ready(supervisor), "a worker and a spare")
    worker, spare = supervisor.process, supervisor.spare
    assert worker is not None and spare is not None
    _wait(lambda: _catches_sigint(worker.pid), "the worker's SIGINT handler")
    supervisor.stop()
    assert worker.poll() not in (None, -signal.SIGKILL)  # it left on SIGINT, not killed
    # It left without running: end of file on its stdin, or SIGTERM when the supervisor's
    # thread that started it ended (PR_SET_PDEATHSIG follows the creating thread).
    assert spare.poll() in (0, -signal.SIGTERM)


def test_the_real_worker_hears_sigint_even_when_started_with_it_ignored() -> None:
    """`qianshou project` turns SIGINT back on, so stop() interrupts it rather than waiting
    STOP_TIMEOUT_SECONDS to kill it, whoever started the service."""
    spare = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "project", "--standby"], stdin=subprocess.PIPE,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        _wait(lambda: _catches_sigint(spare.pid), "the worker's SIGINT handler")
        spare.send_signal(signal.SIGINT)
        spare.wait(timeout=DEADLINE)
    finally:
        spare.kill()
    assert spare.returncode != -signal.SIGKILL


def test_a_worker_that_keeps_dying_quickly_is_retried_later_and_later() -> None:
    assert restart_pause(0) == 0  # after a worker that ran a while: at once
    pauses = [restart_pause(n) for n in range(1, 9)]
    assert pauses[:4] == [1, 2, 4, 8]
    assert pauses == sorted(pauses) and max(pauses) == projector.LAST_PAUSE_SECONDS
    assert QUICK_DEATH_SECONDS > 0
