"""Repeated failed sign-ins slow down, then lock; a right password resets the count."""

import pytest

from services.login_throttle import (FREE_FAILURES, LOCK_AFTER, LOCK_SECONDS, LoginThrottle,
                                     TooManyAttempts)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_free_failures_then_growing_waits_then_a_lock() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(FREE_FAILURES - 1):
        throttle.check("Teacher.Li")
        throttle.failed("teacher.li")
    throttle.check("teacher.li")  # still free
    throttle.failed("teacher.li")
    with pytest.raises(TooManyAttempts) as first:
        throttle.check("TEACHER.LI")  # names are compared without case
    assert first.value.retry_after == 1
    waits = []
    for _ in range(LOCK_AFTER - FREE_FAILURES):
        clock.now += 31
        throttle.check("teacher.li")
        throttle.failed("teacher.li")
        try:
            throttle.check("teacher.li")
        except TooManyAttempts as refused:
            waits.append(refused.retry_after)
    assert waits[:4] == [2, 4, 8, 16] and max(waits[:-1]) <= 30
    assert waits[-1] == LOCK_SECONDS  # the tenth failure locks the name
    clock.now += LOCK_SECONDS - 1
    with pytest.raises(TooManyAttempts):
        throttle.check("teacher.li")
    throttle.check("someone.else")  # other accounts are not affected


def test_success_resets_and_old_failures_expire() -> None:
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(FREE_FAILURES):
        throttle.failed("a.b")
    throttle.succeeded("a.b")
    throttle.check("a.b")
    for _ in range(FREE_FAILURES):
        throttle.failed("a.b")
    clock.now += 16 * 60
    throttle.check("a.b")
