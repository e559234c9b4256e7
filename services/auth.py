"""Sign-in: argon2 password hashes, signed expiring tokens, disabled users refused."""

import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

from domain.actor import Actor
from domain.user import User, user_id_for
from domain.values import utcnow
from services.application import Qianshou

hasher = PasswordHasher()
# Verified against when the user is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hasher.hash("not-a-real-password")


class AuthError(Exception):
    """Bad credentials or token (401)."""


@dataclass
class TokenService:
    app: Qianshou
    secret: str
    ttl: timedelta

    def login(self, username: str, password: str) -> str:
        user = self._user(username)
        try:
            hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerifyMismatchError, InvalidHashError):
            raise AuthError("wrong username or password") from None
        if user is None or user.disabled:
            raise AuthError("wrong username or password")
        now = utcnow()
        claims = {"sub": user.username, "agency": user.user_agency, "role": user.role,
                  "jur": user.jurisdiction, "iat": int(now.timestamp()),
                  "exp": int((now + self.ttl).timestamp())}
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def actor(self, token: str) -> Actor:
        """The actor a token speaks for; a disabled user's tokens stop working at once."""
        try:
            claims: dict[str, Any] = jwt.decode(token, self.secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            raise AuthError("invalid or expired token") from None
        if self._is_disabled(claims["sub"]):
            raise AuthError("this account is disabled")
        return Actor(user_id=str(user_id_for(claims["sub"])), username=claims["sub"],
                     agency=claims["agency"], role=claims["role"])

    def _user(self, username: str) -> User | None:
        user_id = user_id_for(username)
        if user_id not in self.app.repository:
            return None
        user: object = self.app.repository.get(user_id)
        return user if isinstance(user, User) else None

    _disabled_cache: dict[str, tuple[float, bool]] | None = None

    def _is_disabled(self, username: str) -> bool:
        """Checked per request, cached for a second so a burst costs one read."""
        if self._disabled_cache is None:
            self._disabled_cache = {}
        now = time.monotonic()
        cached = self._disabled_cache.get(username)
        if cached and now - cached[0] < 1.0:
            return cached[1]
        user = self._user(username)
        disabled = user is None or user.disabled
        self._disabled_cache[username] = (now, disabled)
        return disabled
