"""The read audit's queue (infra/access_log.py) against its background writer, on both stores."""

import threading
import time
from typing import Any

from domain.actor import SYSTEM
from infra.services import Services


def test_a_reader_waits_for_the_batch_the_writer_is_committing(services: Services) -> None:
    """The writer has taken the queue and not yet committed it when the audit is read: the
    read must wait for that batch, not find the queue empty and list nothing (seen once in
    CI on PostgreSQL, tests/access/test_jurisdiction.py)."""
    log = services.access
    log.stop()  # this test plays the background writer itself
    log.record(SYSTEM, ["child-1"], "GET /children/{child_id}", ("profile",), "家访前查看")
    taken, original = threading.Event(), log._write

    def slow_write(entries: list[Any]) -> None:
        taken.set()
        time.sleep(0.3)  # a commit that takes a while
        original(entries)

    log._write = slow_write  # type: ignore[method-assign]
    writer = threading.Thread(target=log.flush)
    writer.start()
    assert taken.wait(5)
    log._write = original  # type: ignore[method-assign]
    listed = log.for_child("child-1", 0, 10)
    writer.join()
    assert [(r["what"], r["purpose"]) for r in listed] == [
        ("GET /children/{child_id}", "家访前查看")]
