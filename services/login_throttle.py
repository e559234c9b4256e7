"""Slows password guessing: repeated failures for one account wait longer, then lock.

Per account name, in this process's memory: after FREE_FAILURES failures in a row each
next attempt must wait twice as long as the last (1 s, 2 s, 4 s ... up to MAX_DELAY), and
LOCK_AFTER failures within WINDOW lock the name for LOCK_SECONDS. A right password resets
the count. With several worker processes each keeps its own count, so an attacker gets at
most that many times the attempts; the lock still bounds them.
"""

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

FREE_FAILURES = 3
MAX_DELAY = 30.0
LOCK_AFTER = 10
WINDOW = 15 * 60.0
LOCK_SECONDS = 15 * 60.0


class TooManyAttempts(Exception):
    """Sign-in refused for now (429 with Retry-After)."""

    def __init__(self, retry_after: float) -> None:
        self.retry_after = max(1, math.ceil(retry_after))
        super().__init__(f"too many failed sign-ins: try again in {self.retry_after} s")


@dataclass
class LoginThrottle:
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, list[float]] = field(default_factory=dict)
    _locked_until: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, username: str) -> None:
        """Raise TooManyAttempts when this account may not try again yet."""
        now, key = self.clock(), username.lower()
        with self._lock:
            recent = self._recent(key, now)
            locked_until = self._locked_until.get(key, 0.0)
            if locked_until and locked_until <= now:
                del self._locked_until[key]
        if locked_until > now:
            raise TooManyAttempts(locked_until - now)
        if len(recent) >= FREE_FAILURES:
            wait = recent[-1] + min(MAX_DELAY, 2.0 ** (len(recent) - FREE_FAILURES)) - now
            if wait > 0:
                raise TooManyAttempts(wait)

    def failed(self, username: str) -> None:
        now, key = self.clock(), username.lower()
        with self._lock:
            recent = [*self._recent(key, now), now]
            if len(recent) >= LOCK_AFTER:
                self._locked_until[key] = now + LOCK_SECONDS
                recent = []
            self._failures[key] = recent

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._failures.pop(username.lower(), None)

    def _recent(self, key: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(key, []) if now - t < WINDOW]
        if kept:
            self._failures[key] = kept
        else:
            self._failures.pop(key, None)
        return kept
