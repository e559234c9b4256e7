"""The eventsourcing PostgreSQL persistence, made to give up quickly when the database is away.

Measured with eventsourcing 9.5.6 and the database stopped: every recorder method retries
10 times on OperationalError, and each attempt waits the pool's timeout for a connection,
so one read took 22 s at a 2 s timeout (52 s at 5 s) before the request could answer 503.
Here a call that got no connection in time fails at once (a request waits one pool timeout,
then answers 503 + Retry-After and the client resends with its key); a connection that
broke in use is tried once more, as the library intends.

And once the database is back, psycopg_pool tries again only after a back-off that doubles
for up to five minutes (14 s after a 6 s outage here): a reconnect attempt that gives up
after the pool's timeout lets the next request start a fresh attempt at once (30 ms here).

The pool pings a connection before handing it out (POSTGRES_PRE_PING), so that one left
dead by a restart is replaced instead of failing a request. A ping is a round trip, and a
command checks a connection out three times or more: here a connection that answered a
ping less than PING_EVERY_SECONDS ago is handed out without another. In that second after
a restart a request may still meet a dead connection: it answers 503 + Retry-After and the
pool drops the connection.
"""

import functools
import inspect
import time
import weakref
from collections.abc import Callable
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import (PostgresAggregateRecorder, PostgresApplicationRecorder,
                                    PostgresFactory, PostgresTrackingRecorder)
from psycopg_pool import PoolTimeout

from infra.idempotent_recorders import IdempotentPostgresRecorder

PING_EVERY_SECONDS = 1.0


class RecentPing:
    """The pool's check: the library's ping, skipped for a connection pinged just now."""

    def __init__(self, ping: Callable[[Any], None]) -> None:
        self.ping = ping
        self.pinged: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    def __call__(self, conn: Any) -> None:
        now = time.monotonic()
        if now - self.pinged.get(conn, float("-inf")) < PING_EVERY_SECONDS:
            return
        self.ping(conn)  # raises for a dead connection: the pool discards it
        self.pinged[conn] = now


# Ours, not the library's: the server-side limit on any one statement, in whole seconds.
STATEMENT_TIMEOUT = "POSTGRES_STATEMENT_TIMEOUT"


def _rewrapped(method: Callable[..., Any]) -> Callable[..., Any]:
    """The library's method without its 10 retries: one more try, unless the pool is dry."""
    raw = inspect.unwrap(method)

    @functools.wraps(raw)
    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return raw(*args, **kwargs)
        except (InterfaceError, OperationalError) as error:
            if isinstance(error.__cause__, PoolTimeout):
                raise  # no connection within the timeout: waiting again would double it
            return raw(*args, **kwargs)

    return call


class BoundedAggregateRecorder(PostgresAggregateRecorder):
    """Snapshots."""

    insert_events = _rewrapped(PostgresAggregateRecorder.insert_events)
    select_events = _rewrapped(PostgresAggregateRecorder.select_events)


class BoundedApplicationRecorder(IdempotentPostgresRecorder):
    """Events and Idempotency-Keys (infra/idempotent_recorders.py)."""

    # Not insert_events itself: SealKeysWithEvents wraps this with the seal keys' cache.
    _insert_events_in_one_transaction = _rewrapped(PostgresApplicationRecorder.insert_events)
    select_events = _rewrapped(PostgresApplicationRecorder.select_events)
    select_notifications = _rewrapped(PostgresApplicationRecorder.select_notifications)
    max_notification_id = _rewrapped(PostgresApplicationRecorder.max_notification_id)


class BoundedTrackingRecorder(PostgresTrackingRecorder):
    """The views' positions."""

    insert_tracking = _rewrapped(PostgresTrackingRecorder.insert_tracking)
    max_tracking_id = _rewrapped(PostgresTrackingRecorder.max_tracking_id)
    has_tracking_id = _rewrapped(PostgresTrackingRecorder.has_tracking_id)


class Factory(PostgresFactory):
    """PERSISTENCE_MODULE=infra.pg_persistence:Factory (set by infra/settings.py)."""

    aggregate_recorder_class = BoundedAggregateRecorder
    application_recorder_class = BoundedApplicationRecorder
    tracking_recorder_class = BoundedTrackingRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        pool = self.datastore.pool
        pool.reconnect_timeout = pool.timeout
        if pool._check is not None:  # psycopg_pool 3.3 keeps the check here (pinned)
            pool._check = RecentPing(pool._check)
        # A runaway query (a view read gone slow) is cancelled by the server rather than
        # holding a pooled connection: the request answers 503 and the pool stays free.
        seconds = int(self.env.get(STATEMENT_TIMEOUT) or 0)
        if seconds > 0:
            assert isinstance(pool.kwargs, dict)
            pool.kwargs["options"] = f"-c statement_timeout={seconds * 1000}"
