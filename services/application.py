"""The application service: loads aggregates, runs one decision, saves it exactly once."""

import json
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    ConnectionUnavailableError,
    IntegrityError,
    JSONTranscoder,
    Mapper,
    OperationalError,
    Transcoding,
)

from domain.actor import Actor, current_actor
from domain.child import Child
from domain.errors import ConflictingState, NotFound
from services.idempotency import (
    IdempotencyMismatch,
    IdempotencyRecord,
    IdempotencyRequest,
)

MAX_ATTEMPTS = 40


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


@dataclass(frozen=True)
class Answer:
    """What a command answers: HTTP status, body, and the position of its last event."""

    status_code: int
    body: dict[str, Any]
    position: int

    def as_json(self) -> dict[str, Any]:
        return {**self.body, "position": self.position}


# A decision loads fresh aggregates, applies domain methods and says what to answer.
Decision = Callable[[], tuple[Sequence[Aggregate], int, dict[str, Any]]]


class Qianshou(Application[UUID]):
    """The one event store of every agency's facts about the children."""

    name = "Qianshou"
    snapshotting_intervals = {Child: 50}

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        if hasattr(self.recorder, "seal_keys"):  # new seal keys commit with their events
            self.recorder.seal_keys = self.keys
            self.keys.with_events = True
        self.on_saved: list[Callable[[int], None]] = []
        # Writers of one aggregate in this process queue here instead of retrying;
        # other processes are still kept honest by optimistic concurrency.
        self._stripes = [threading.Lock() for _ in range(64)]
        # When the store last failed a command (database away): commands queued on a stripe
        # behind it give up at once instead of each waiting out the pool's timeout in turn.
        self._store_failed_at = 0.0

    def construct_mapper(self) -> Mapper[UUID]:
        """A child's personal fields are sealed with keys erasure destroys (issue 3)."""
        from infra.sealing import KeyStore, SealingMapper  # infra builds on this module

        self.keys = KeyStore(self.factory.datastore)
        return SealingMapper(self.construct_transcoder(), self.keys)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())

    def load(self, aggregate_id: UUID, kind: type[Aggregate], what: str) -> Any:
        try:
            aggregate: Aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} not found") from None
        if not isinstance(aggregate, kind):
            raise NotFound(f"{what} not found")
        return aggregate

    def exists(self, aggregate_id: UUID) -> bool:
        return aggregate_id in self.repository

    def execute(self, decide: Decision, *, actor: Actor, idem: IdempotencyRequest | None,
                lock_key: UUID | None = None) -> Answer:
        """Run a decision with retry on version conflicts; an answered key is replayed."""
        token = current_actor.set(actor)
        try:
            stripe = self._stripes[hash(lock_key) % 64] if lock_key else None
            for attempt in range(MAX_ATTEMPTS):
                replay = self._replay(idem)
                if replay is not None:
                    return replay
                try:
                    answer = (self._try_in_turn(stripe, decide, idem) if stripe is not None
                              else self._try_once(decide, idem))
                except ConflictingState:
                    # A twin with the same key may have committed between our replay check
                    # and our decision (e.g. it took the ID number): its answer is ours.
                    replay = self._replay(idem)
                    if replay is not None:
                        return replay
                    raise
                if answer is not None:
                    return answer
                time.sleep(random.uniform(0.001, 0.005) * (attempt + 1))
            raise ConflictingState("too many concurrent changes to this file; please retry")
        finally:
            current_actor.reset(token)

    def _try_in_turn(self, stripe: threading.Lock, decide: Decision,
                     idem: IdempotencyRequest | None) -> Answer | None:
        """One attempt under the aggregate's stripe lock, bounded when the store is away."""
        queued_at = time.monotonic()
        with stripe:
            if self._store_failed_at > queued_at:
                raise OperationalError("the store failed while this command waited; retry")
            try:
                return self._try_once(decide, idem)
            except OperationalError:
                self._store_failed_at = time.monotonic()
                raise

    def _try_once(self, decide: Decision, idem: IdempotencyRequest | None) -> Answer | None:
        aggregates, status, body = decide()
        record = None
        if idem is not None:
            record = IdempotencyRecord(idem.scope_key, idem.request_hash, status,
                                       json.dumps(body, ensure_ascii=False, default=str))
        try:
            recordings = self.save(*aggregates, idempotency=record)
        except IntegrityError:
            return None  # someone else wrote first: decide again on fresh state
        except ConnectionUnavailableError:
            return None  # every writer slot was busy past the pool's timeout: nothing written
        except OperationalError as error:
            if "lock timeout" not in str(error):
                raise
            return None  # the store's table lock was not granted in time: nothing written
        position = max(r.notification.id for r in recordings)
        for listener in self.on_saved:
            listener(position)
        return Answer(status, body, position)

    def _replay(self, idem: IdempotencyRequest | None) -> Answer | None:
        if idem is None:
            return None
        stored = self.recorder.select_answer(idem.scope_key)  # type: ignore[attr-defined]
        if stored is None:
            return None
        if stored.request_hash != idem.request_hash:
            raise IdempotencyMismatch("Idempotency-Key was already used with a different request")
        return Answer(stored.status_code, json.loads(stored.body), stored.position)

    def max_position(self) -> int:
        return self.recorder.max_notification_id() or 0
