"""Hands the C heap's free pages back to the operating system, every so often.

A soak of the server (bench/soak.py) showed its resident size growing about 1.6 MiB a
minute while the Python heap (tracemalloc) stayed level once its caches were full: memory
that glibc's allocator had been given back by Python and kept (the answers of the reads are
tens of kilobytes, allocated with malloc and freed a moment later, in the threads of the
pool, each with its arena). malloc_trim(0) releases it. On a C library without it (musl),
nothing is done.
"""

import ctypes
import ctypes.util
import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger("memory")


def _malloc_trim() -> Callable[[int], int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        trim = libc.malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim  # type: ignore[no-any-return]


class HeapTrimmer:
    """A daemon thread that calls malloc_trim(0) every `every` seconds until stopped."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.trims = 0
        self._trim = _malloc_trim()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.every <= 0 or self._trim is None:
            return
        self._thread = threading.Thread(target=self._run, name="heap-trim", daemon=True)
        self._thread.start()

    def trim_now(self) -> None:
        if self._trim is not None:
            self._trim(0)
            self.trims += 1

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.trim_now()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
