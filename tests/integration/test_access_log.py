"""The read audit's queue (infra/access_log.py) against its background writer, on both stores."""

import threading
import time
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from domain.actor import SYSTEM
from infra.access_log import Access
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


BAD_TEXTS = ["空\x00字符", "孤\ud800代理", "非\uffff字符", "控\x1b制", "\U0010fffe"]


def test_any_purpose_is_written_and_none_blocks_the_audit(services: Services) -> None:
    """A purpose no store can hold (NUL stopped PostgreSQL's read audit for good) is kept
    with U+FFFD in place of what cannot be stored, beside the reads around it."""
    log = services.access
    log.stop()
    purposes = ["家访前查看", *BAD_TEXTS, "会商"]
    for purpose in purposes:
        log.record(SYSTEM, ["child-2"], "GET /children/{child_id}", ("profile",), purpose)
    assert log.flush() == len(purposes)
    listed = [r["purpose"] for r in log.for_child("child-2", 0, 50)]
    assert listed == ["家访前查看", "空\ufffd字符", "孤\ufffd代理", "非\ufffd字符", "控\ufffd制",
                      "\ufffd", "会商"]


def test_a_record_the_database_refuses_is_written_apart_and_holds_back_nothing(
        services: Services) -> None:
    """Should a record still be unwritable (server-side text, not a purpose), the rest of
    its batch is written and so is the read itself, in plain ASCII."""
    log = services.access
    log.stop()
    log.record(SYSTEM, ["child-3"], "GET /a", ("profile",), "前")
    log._queue.append(Access("2026-12-04T00:00:00+00:00", "admin", "admin", "township",
                             "child-3", "GET /b\ud800\x00", ("profile",), None, False))
    log.record(SYSTEM, ["child-3"], "GET /c", ("profile",), "后")
    assert log.flush() == 3
    assert not log._queue
    assert [r["what"] for r in log.for_child("child-3", 0, 50)] == ["GET /a", "GET /b??",
                                                                    "GET /c"]
    log.record(SYSTEM, ["child-3"], "GET /d", ("profile",), None)  # the audit goes on
    assert [r["what"] for r in log.for_child("child-3", 3, 50)][-1:] == ["GET /d"]


def test_a_store_away_keeps_the_queue_in_order_for_the_next_flush(services: Services) -> None:
    log = services.access
    log.stop()
    for what in ("GET /1", "GET /2"):
        log.record(SYSTEM, ["child-4"], what, ("profile",), None)
    original = log._write

    def away(entries: list[Any]) -> None:
        raise OperationalError("the database is away")

    log._write = away  # type: ignore[method-assign]
    with pytest.raises(OperationalError):
        log.flush()
    log._write = original  # type: ignore[method-assign]
    assert log.flush() == 2
    assert [r["what"] for r in log.for_child("child-4", 0, 50)] == ["GET /1", "GET /2"]
