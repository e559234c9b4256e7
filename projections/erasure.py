"""Erasure's own step in the projections: the child's keys are destroyed on its Erased event.

The erase command destroys them at once too (services/handlers.py); doing it again here, in
a transaction that also moves this view's tracking position, means a crash between the
Erased event's commit and the command's own step still ends with the keys gone. It is
idempotent, so a rebuild repeats it harmlessly.
"""

from typing import Any

from domain.child import Child
from projections.view import Cursor, iso


class ErasureView:
    name = "erasure"

    def __init__(self, keys: Any) -> None:
        self.keys = keys  # infra.sealing.KeyStore

    def create_tables(self, cur: Cursor) -> None:
        pass  # the keys' table belongs to the key store

    def reset(self, cur: Cursor) -> None:
        pass  # destroyed keys are not brought back by a rebuild

    def apply(self, cur: Cursor, position: int, event: Any) -> None:
        if isinstance(event, Child.Erased):
            self.keys.shred(cur, str(event.originator_id), iso(event.recorded_at))
