"""Runs the views: reads the store in order, applies each batch to every view in one transaction.

The library's ProjectionRunner commits once per event (about 2,100 events/s here) and has
no subscription on SQLite, so this runner reads batches with select_notifications, applies
each batch to the views and records their tracking positions in the same transaction:
every event is applied exactly once, and a crash loses at most an uncommitted batch.
"""

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import structlog

from domain.child import Child
from projections.view import View, with_text_ids

log = structlog.get_logger("projections")

# Batches this short (the events of a command or a few) are sent in PostgreSQL's pipeline
# mode: one event's batch was about 20 round trips, one per statement. Longer ones keep
# COPY for their runs of rows (infra/viewdb.py).
PIPELINED_EVENTS = 50


class ProjectionRunner:
    """Keeps a set of views up to date with the store; wakes on saves or on a poll."""

    def __init__(self, app: Any, db: Any, views: Sequence[View], batch_size: int = 1000) -> None:
        self.app = app
        self.db = db
        self.views = list(views)
        self.batch_size = batch_size
        self.positions: dict[str, int] = {}
        self._changed = threading.Condition()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.is_running = False

    def create_tables(self) -> None:
        """Every view's tables; a view whose `version` changed since its tables were built
        starts afresh, and the runner builds it again from the whole history."""
        self.db.create_versions_table()
        with self.db.transaction() as cur:
            built = self.db.view_versions(cur, [v.name for v in self.views])
            for view in self.views:
                version = getattr(view, "version", 1)
                if built[view.name] != version:
                    self._start_afresh(cur, view, built[view.name], version)
                    self.db.record_version(cur, view.name, version)
                view.create_tables(cur)
                self.db.seed_position(cur, view.name)

    def _start_afresh(self, cur: Any, view: View, built: int, version: int) -> None:
        if getattr(view, "kept_on_rebuild", False):  # evidence (the ledger): never dropped
            raise RuntimeError(f"view {view.name} is kept on rebuild; it has no versions")
        had = self.db.lock_positions(cur, [view.name])[view.name]
        if had:  # not on a new store, where there is nothing to build again
            log.info("view_rebuilding", view=view.name, built_by=built, version=version,
                     from_position=had)
        drop = getattr(view, "drop_tables", None)
        if drop is not None:
            drop(cur)  # a new shape: create_tables makes the tables anew
        else:
            view.create_tables(cur)
            view.reset(cur)
        self.db.forget_position(cur, view.name)

    def load_positions(self) -> None:
        self.positions = self.db.positions([v.name for v in self.views])  # one read

    @property
    def position(self) -> int:
        """The position every view has reached."""
        return min(self.positions.values()) if self.positions else 0

    # --- processing -------------------------------------------------------------------

    def catch_up(self, progress: Callable[[int], None] | None = None) -> int:
        """Apply everything recorded so far; returns how many events were read."""
        self.load_positions()
        total = 0
        # While the views write a full batch (mostly waiting on the database), the next one
        # is read and decoded beside them.
        with ThreadPoolExecutor(1, thread_name_prefix="projections-read") as reader:
            ahead: tuple[int, Future[Any]] | None = None
            while True:
                start = self.position + 1
                if ahead is not None and ahead[0] == start:
                    notifications, events = ahead[1].result()
                else:
                    notifications, events = self._read(start)
                ahead = None
                if not notifications:
                    return total
                if len(notifications) == self.batch_size:
                    following = notifications[-1].id + 1
                    ahead = (following, reader.submit(self._read, following))
                self._apply_all(notifications, events, progress)
                total += len(events)

    def _read(self, start: int) -> tuple[Sequence[Any], list[tuple[int, Any]]]:
        notifications = self.app.recorder.select_notifications(start, self.batch_size)
        prefetch = getattr(self.app.mapper, "prefetch_keys", None)
        if prefetch is not None:  # infra/sealing: one read for the batch's keys, not one each
            prefetch(notifications)
        events = with_text_ids([self.app.mapper.to_domain_event(n) for n in notifications])
        return notifications, [(n.id, event) for n, event in zip(notifications, events)]

    def _apply_all(self, notifications: Sequence[Any], events: list[tuple[int, Any]],
                   progress: Callable[[int], None] | None) -> None:
        for view in self.views:
            if hasattr(view, "see_stored"):  # optional hook: the ledger hashes stored bytes
                view.see_stored(notifications)
        # Every view's part of the batch in one transaction: one checkout and one commit
        # instead of one per view, which is most of the wait after a single command. Each
        # view still commits its rows with its own tracking position; a view that fails
        # rolls the batch back for all, as it stopped the later views before.
        behind = [v.name for v in self.views if self.positions[v.name] < events[-1][0]]
        if behind:
            self.positions.update(self._apply_views(behind, events))
        if progress:
            progress(len(events))
        with self._changed:
            self._changed.notify_all()

    def _apply_views(self, names: list[str], events: list[tuple[int, Any]]) -> dict[str, int]:
        """The named views' parts of the batch, in one transaction; their new positions."""
        moved: dict[str, int] = {}
        # Asked once a batch, not by each view that keeps personal data.
        erasing = any(isinstance(event, Child.Erased) for _, event in events)
        with self.db.view_batch(pipelined=len(events) <= PIPELINED_EVENTS) as cur:
            committed = self.db.lock_positions(cur, names)
            for view in self.views:
                if view.name in committed:
                    moved[view.name] = self._apply_batch(cur, view, events,
                                                         committed[view.name], erasing)
            self.db.record_positions(cur, {name: (committed[name], position)
                                           for name, position in moved.items()
                                           if position != committed[name]})
        return moved

    def _apply_batch(self, cur: Any, view: View, events: list[tuple[int, Any]],
                     committed: int, erasing: bool) -> int:
        """Apply the events the view has not seen; its position afterwards. `committed` is
        its position as locked in this transaction; `erasing`, whether the batch holds a
        Child.Erased (which cuts it for views that keep personal data)."""
        done = self.positions[view.name]
        todo = events if events[0][0] > done else [(p, ev) for p, ev in events if p > done]
        if committed != done:
            return committed  # another runner moved this view on: re-read from there
        if not todo:
            return done  # another thread of this runner (a rebuild beside the loop) got here
        for part in (_cut_at_erasures(view, todo) if erasing else [todo]):
            if isinstance(part, str):
                view.erase(cur, part)  # the child's personal data leaves this view
            else:
                self._apply_events(view, cur, part)
        return int(todo[-1][0])  # recorded with the other views' by _apply_views

    @staticmethod
    def _apply_events(view: View, cur: Any, events: list[tuple[int, Any]]) -> None:
        batch_apply = getattr(view, "apply_batch", None)
        if batch_apply is not None:
            batch_apply(cur, events)  # set-based writes: one statement per table a batch
        else:
            for pos, event in events:
                view.apply(cur, pos, event)

    def rebuild(self, progress: Callable[[int], None] | None = None) -> int:
        """Empty every view and apply the whole history again.

        A view that is evidence (the ledger's links, made when each event was first seen)
        says kept_on_rebuild: recomputing it from today's store would bless a tampered one.
        """
        with self.db.transaction() as cur:
            for view in self.views:
                if getattr(view, "kept_on_rebuild", False):
                    continue
                view.reset(cur)
                self.db.forget_position(cur, view.name)
        return self.catch_up(progress)

    # --- running in the background ----------------------------------------------------

    def wake(self, _position: int = 0) -> None:
        self._wake.set()

    def start(self, poll_seconds: float = 0.02) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, args=(poll_seconds,),
                                        name="projections", daemon=True)
        self._thread.start()
        self.is_running = True

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.is_running = False

    def _loop(self, poll_seconds: float) -> None:
        failures = 0
        while not self._stop.is_set():
            woken = self._wake.is_set()
            self._wake.clear()
            try:
                if woken or failures or self._store_moved():
                    self.catch_up()
                failures = 0
            except Exception as error:  # noqa: BLE001 - the loop must outlive a lost database
                failures += 1
                log.warning("projection_batch_failed", error=type(error).__name__,
                            attempt=failures)
                time.sleep(min(0.1 * failures, 2.0))
                continue
            self._wake.wait(poll_seconds)

    def _store_moved(self) -> bool:
        """A poll's question, in one statement: has anything been stored (by another
        process) beyond what the views have seen? catch_up reads the positions and the
        store in two transactions; polled 50 times a second they competed with requests."""
        return (self.app.recorder.max_notification_id() or 0) > self.position

    def wait_for(self, position: int, timeout: float) -> bool:
        """Read-your-writes: block until every view has processed the position."""
        deadline = time.monotonic() + timeout
        if self.is_running:
            with self._changed:
                while self.position < position:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return False
                    self._wake.set()
                    self._changed.wait(min(remaining, 0.05))
            return True
        return self._poll_until(position, deadline)

    def _poll_until(self, position: int, deadline: float) -> bool:
        """Another process runs the views: poll their tracking rows with a short back-off."""
        pause = 0.001
        while True:
            self.load_positions()
            if self.position >= position:
                return True
            if time.monotonic() + pause > deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.02)


def _cut_at_erasures(view: View, events: list[tuple[int, Any]]) -> list[Any]:
    """The batch in order, with the id of each erased child (a str) placed just before its
    Erased event, for a view that keeps personal data (has `erase`). Everything recorded
    before the erasure is applied first, so nothing re-adds what erase removed."""
    if not hasattr(view, "erase"):  # the runner asked once whether the batch erases at all
        return [events]
    parts: list[Any] = []
    start = 0
    for i, (_, event) in enumerate(events):
        if isinstance(event, Child.Erased):
            parts += [events[start:i], str(event.originator_id)]
            start = i
    parts.append(events[start:])
    return [p for p in parts if p or isinstance(p, str)]
