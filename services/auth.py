"""Sign-in: argon2 password hashes, signed expiring tokens, disabled users refused."""

import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

from domain.actor import Actor
from domain.user import User, user_id_for
from domain.values import utcnow
from services.application import Qianshou
from services.login_throttle import LoginThrottle

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
    throttle: LoginThrottle = field(default_factory=LoginThrottle)

    def login(self, username: str, password: str) -> str:
        self.throttle.check(username)
        user = self._user(username)
        try:
            hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
        except (VerifyMismatchError, InvalidHashError):
            self.throttle.failed(username)
            raise AuthError("wrong username or password") from None
        if user is None or user.disabled:
            self.throttle.failed(username)
            raise AuthError("wrong username or password")
        self.throttle.succeeded(username)
        now = utcnow()
        claims = {"sub": user.username, "agency": user.user_agency, "role": user.role,
                  "jur": user.jurisdiction, "iat": int(now.timestamp()),
                  "exp": int((now + self.ttl).timestamp())}
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def actor(self, token: str) -> Actor:
        """The actor a token speaks for, with the account's role and jurisdiction as they are
        now: a disabled user's tokens stop working, and a changed role applies, within 1 s."""
        try:
            claims: dict[str, Any] = jwt.decode(token, self.secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            raise AuthError("invalid or expired token") from None
        return self.actor_named(claims["sub"])

    def actor_named(self, username: str) -> Actor:
        """The account as an actor (for tokens, and for the CLI's --as); refused when unknown
        or disabled."""
        account = self._account(username)
        if account is None or account.disabled:
            raise AuthError("this account is disabled")
        return Actor(user_id=str(user_id_for(username)), username=username,
                     agency=account.user_agency, role=account.role,
                     jurisdiction=dict(account.jurisdiction))

    def _user(self, username: str) -> User | None:
        user_id = user_id_for(username)
        if user_id not in self.app.repository:
            return None
        user: object = self.app.repository.get(user_id)
        return user if isinstance(user, User) else None

    _account_cache: dict[str, tuple[float, User | None]] | None = None

    def _account(self, username: str) -> User | None:
        """Read per request, cached for a second so a burst costs one read."""
        if self._account_cache is None:
            self._account_cache = {}
        now = time.monotonic()
        cached = self._account_cache.get(username)
        if cached and now - cached[0] < 1.0:
            return cached[1]
        user = self._user(username)
        self._account_cache[username] = (now, user)
        return user
