"""Sign-in and sign-out pages: the same TokenService as POST /auth/token, kept in a cookie.

The sign-in form has its own CSRF check, since there is no session yet to bind a token to
(login CSRF: another site posting its own credentials would sign the victim in as the
attacker). The form page sets a random pre-session cookie and puts its HMAC in the form;
a post is accepted only with both (a signed double submit), before any password is checked.
"""

import hashlib
import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from infra.web.dependencies import ServicesDep
from infra.web.pages.session import COOKIE, FormFields, render, see_other
from services.auth import AuthError

router = APIRouter(prefix="/ui")
LOGIN_COOKIE = "qianshou_login"


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never an open redirect to another host."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/emergency"


def login_csrf(secret: str, nonce: str) -> str:
    """The form's token for this browser's pre-session cookie."""
    return hmac.new(secret.encode(), f"login:{nonce}".encode(), hashlib.sha256).hexdigest()[:32]


def _login_page(request: Request, s: ServicesDep, status: int = 200, **context: object
                ) -> HTMLResponse:
    """The form, with the browser's pre-session cookie (a new one when it has none)."""
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    response = render(request, "login.html", status=status,
                      login_csrf=login_csrf(s.tokens.secret, nonce), **context)
    # Strict: sent only when the form is posted from this site's own page.
    response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", path="/ui/login")
    return response


@router.get("", include_in_schema=False)
def home() -> Response:
    return see_other("/ui/emergency")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, s: ServicesDep, next: str | None = None) -> HTMLResponse:
    return _login_page(request, s, next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, s: ServicesDep, username: Annotated[str, Form(max_length=40)],
          password: Annotated[str, Form(max_length=128)],
          next: Annotated[str, Form(max_length=300)] = "",
          csrf: Annotated[str, Form(max_length=100)] = "") -> Response:
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not (nonce and hmac.compare_digest(csrf.encode(),
                                          login_csrf(s.tokens.secret, nonce).encode())):
        return _login_page(request, s, status=403, csrf_failed=True, username=username,
                           next=_safe_next(next))
    try:
        token = s.tokens.login(username, password)
    except AuthError:
        return _login_page(request, s, status=401, failed=True, username=username,
                           next=_safe_next(next))
    response = see_other(_safe_next(next))
    # HttpOnly: scripts cannot read the token; Lax: other sites cannot post with it.
    response.set_cookie(COOKIE, token, max_age=s.settings.token_ttl_minutes * 60,
                        httponly=True, samesite="lax", secure=request.url.scheme == "https",
                        path="/ui")
    response.delete_cookie(LOGIN_COOKIE, path="/ui/login")
    return response


@router.post("/logout")
def logout(request: Request, s: ServicesDep, _: FormFields) -> Response:
    """Ends the session itself, not only the cookie: a copied token stops working too."""
    s.tokens.logout(request.cookies[COOKIE])  # FormFields passed the gate: the cookie is there
    response = see_other("/ui/login")
    response.delete_cookie(COOKIE, path="/ui")
    return response
