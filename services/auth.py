"""Sign-in: argon2 password hashes, signed expiring tokens, sessions that sign-out ends,
disabled users refused."""

import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, NamedTuple, Protocol

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

from domain.actor import Actor
from domain.user import User, user_id_for
from domain.values import utcnow
from services.application import Qianshou
from services.login_throttle import LoginThrottle

hasher = PasswordHasher()
# How long a changed role or jurisdiction may lag behind on a live token. A disable also
# ends the user's sessions, which no cache holds, so their tokens stop at once.
ACCOUNT_CACHE_SECONDS = 1.0
VERIFIED_TOKENS = 10_000
# Verified against when the user is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hasher.hash("not-a-real-password")
# Every claim sign-in writes and a request relies on: a token without one is a 401.
REQUIRED_CLAIMS = ["sub", "exp", "iat", "jti"]


class AuthError(Exception):
    """Bad credentials or token (401)."""


class Sessions(Protocol):
    """Where the open sessions are kept: shared by every process (infra/sessions.py)."""

    def open(self, jti: str, username: str, expires_at: int) -> None: ...

    def holder(self, jti: str) -> str | None: ...

    def end(self, jti: str) -> None: ...

    def end_all(self, username: str) -> None: ...


class Claims(NamedTuple):
    """What a verified token says: whose it is, until when, and which session it is."""

    sub: str
    exp: float
    jti: str


@dataclass
class TokenService:
    app: Qianshou
    secret: str
    ttl: timedelta
    sessions: Sessions
    throttle: LoginThrottle = field(default_factory=LoginThrottle)
    _verified: dict[str, Claims] = field(default_factory=dict, repr=False)

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
        expires = int((now + self.ttl).timestamp())
        jti = secrets.token_urlsafe(18)
        self.sessions.open(jti, user.username, expires)
        claims = {"sub": user.username, "agency": user.user_agency, "role": user.role,
                  "jur": user.jurisdiction, "iat": int(now.timestamp()), "exp": expires,
                  "jti": jti}
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def logout(self, token: str) -> None:
        """End the token's session: on every process, from the next request on."""
        self.sessions.end(self._session(token).jti)

    def end_sessions(self, username: str) -> None:
        """End every session of the user (when the account is disabled)."""
        self.sessions.end_all(username)

    def actor(self, token: str) -> Actor:
        """The actor a token speaks for, with the account's role and jurisdiction as they are
        now. One read of the session's row a request (its primary key) ends a token at once
        after a sign-out or a disable on any process; a changed role applies within 1 s."""
        return self.actor_named(self._session(token).sub)

    def _session(self, token: str) -> Claims:
        """The token's claims while its session is open; 401 once it has ended."""
        claims = self._claims(token)
        if self.sessions.holder(claims.jti) != claims.sub:
            raise AuthError("this session has ended: sign in again")
        return claims

    def _claims(self, token: str) -> Claims:
        """The token's claims, its signature checked once: a verified token is remembered
        until it expires (a phone signs in once and sends the same token all shift)."""
        known = self._verified.get(token)
        if known is not None and time.time() < known.exp:
            return known
        claims = self._verified_claims(token)
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified.clear()  # bounded; the next request of each user verifies again
        self._verified[token] = claims
        return claims

    def _verified_claims(self, token: str) -> Claims:
        """Signature, expiry and every claim we rely on present and of its type, else 401
        (a token signed with our key but made by hand must not be a 500)."""
        try:
            claims: dict[str, Any] = jwt.decode(token, self.secret, algorithms=["HS256"],
                                                options={"require": REQUIRED_CLAIMS})
        except jwt.PyJWTError:
            raise AuthError("invalid or expired token") from None
        sub, exp, jti = claims.get("sub"), claims.get("exp"), claims.get("jti")
        if not (isinstance(sub, str) and sub and isinstance(jti, str) and jti
                and isinstance(exp, int) and not isinstance(exp, bool)):
            raise AuthError("invalid or expired token")
        return Claims(sub, float(exp), jti)

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
