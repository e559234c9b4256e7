"""Idempotency-Key handling: a repeated command answers as the first time, and records nothing."""

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from domain.errors import ConflictingState


@dataclass(frozen=True)
class IdempotencyRequest:
    """An Idempotency-Key header, scoped to the user, with a hash of what was asked."""

    scope_key: str
    request_hash: str

    @classmethod
    def of(cls, user_id: str, key: str, method: str, path: str, body: Any) -> "IdempotencyRequest":
        canonical = json.dumps([method, path, body], sort_keys=True, ensure_ascii=False)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        return cls(scope_key=f"{user_id}:{key}", request_hash=digest)


@dataclass(frozen=True)
class IdempotencyRecord:
    """What the recorder writes beside the events, in their transaction."""

    scope_key: str
    request_hash: str
    status_code: int
    body: str  # JSON of the answer, without its position


@dataclass(frozen=True)
class StoredAnswer:
    """An answered command as read back from the store."""

    request_hash: str
    status_code: int
    body: str
    position: int


class IdempotencyMismatch(ConflictingState):
    """The same Idempotency-Key was sent before with another request."""
