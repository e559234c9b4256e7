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
ACCOUNT_CACHE_SECONDS = 1.0  # how long a disabled account's tokens may still work
VERIFIED_TOKENS = 10_000
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
    _verified: dict[str, tuple[str, float]] = field(default_factory=dict, repr=False)

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
        return self.actor_named(self._username(token))

    def cached_actor(self, token: str) -> Actor | None:
        """The same actor when the account was read less than a second ago; None when it
        must be read from the store (the caller then does that off the event loop)."""
        username = self._username(token)
        cached = (self._account_cache or {}).get(username)
        if cached is None or time.monotonic() - cached[0] >= ACCOUNT_CACHE_SECONDS:
            return None
        return self._as_actor(username, cached[1])  # never a read of the store

    def _username(self, token: str) -> str:
        """The token's user, its signature checked once: a verified token is remembered
        until it expires (a phone signs in once and sends the same token all shift)."""
        now = time.time()
        known = self._verified.get(token)
        if known is not None and now < known[1]:
            return known[0]
        try:
            claims: dict[str, Any] = jwt.decode(token, self.secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            raise AuthError("invalid or expired token") from None
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified.clear()  # bounded; the next request of each user verifies again
        self._verified[token] = (str(claims["sub"]), float(claims["exp"]))
        return str(claims["sub"])

    def actor_named(self, username: str) -> Actor:
        """The account as an actor (for tokens, and for the CLI's --as); refused when unknown
        or disabled."""
        return self._as_actor(username, self._account(username))

    @staticmethod
    def _as_actor(username: str, account: User | None) -> Actor:
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
        if cached and now - cached[0] < ACCOUNT_CACHE_SECONDS:
            return cached[1]
        user = self._user(username)
        self._account_cache[username] = (now, user)
        return user
