"""Sign-in and sign-out pages: the same TokenService as POST /auth/token, kept in a cookie."""

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from infra.web.dependencies import ServicesDep
from infra.web.pages.session import COOKIE, FormFields, render, see_other
from services.auth import AuthError

router = APIRouter(prefix="/ui")


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never an open redirect to another host."""
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/emergency"


@router.get("", include_in_schema=False)
def home() -> Response:
    return see_other("/ui/emergency")


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return render(request, "login.html", next=_safe_next(next))


@router.post("/login", response_class=HTMLResponse)
def login(request: Request, s: ServicesDep, username: Annotated[str, Form(max_length=40)],
          password: Annotated[str, Form(max_length=128)],
          next: Annotated[str, Form(max_length=300)] = "") -> Response:
    try:
        token = s.tokens.login(username, password)
    except AuthError:
        return render(request, "login.html", status=401, failed=True, username=username,
                      next=_safe_next(next))
    response = see_other(_safe_next(next))
    # HttpOnly: scripts cannot read the token; Lax: other sites cannot post with it.
    response.set_cookie(COOKIE, token, max_age=s.settings.token_ttl_minutes * 60,
                        httponly=True, samesite="lax", secure=request.url.scheme == "https",
                        path="/ui")
    return response


@router.post("/logout")
def logout(_: FormFields) -> Response:
    response = see_other("/ui/login")
    response.delete_cookie(COOKIE, path="/ui")
    return response
