"""What every page shares: the sign-in cookie, the actor, CSRF, language, rendering, errors.

A page reads its actor from an HttpOnly cookie holding the same signed token that
/auth/token gives, and passes the same gate as the API (infra/web/authorize with the route's
rule from services/permissions.ROUTES): role, jurisdiction, access log. A page never decides
rights on its own; it only shows the gate's or the handler's refusal in words.
"""

import hashlib
import hmac
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError

from domain.actor import Actor
from domain.errors import ConflictingState, DomainError, Forbidden, InvalidFact, NotFound
from infra.spreadsheet import REASONS
from infra.web.authorize import authorize
from infra.web.dependencies import ServicesDep, current_actor
from infra.web.errors import _validation as api_validation
from infra.web.pages.i18n import LANGS, reason_label, value_label, words
from services.auth import AuthError
from services.permissions import PERMISSIONS

COOKIE = "qianshou_session"
LANG_COOKIE = "lang"
# Shown times are China Standard Time, which keeps no daylight saving.
CST = timezone(timedelta(hours=8))
TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))


class SignInRequired(Exception):
    """No valid session cookie: the page sends the browser to the sign-in form."""


class PageError(Exception):
    """A refusal shown as a page in the reader's language (403, 404, CSRF)."""

    def __init__(self, status: int, key: str, detail: str = "") -> None:
        super().__init__(detail or key)
        self.status, self.key, self.detail = status, key, detail


def lang_of(request: Request) -> str:
    wanted = request.query_params.get("lang") or request.cookies.get(LANG_COOKIE) or "zh"
    return wanted if wanted in LANGS else "zh"


def csrf_token(secret: str, token: str) -> str:
    """Bound to the session: a forged form from another site cannot know it."""
    return hmac.new(secret.encode(), f"csrf:{token}".encode(), hashlib.sha256).hexdigest()[:32]


def page_actor(request: Request, s: ServicesDep) -> Actor:
    """The signed-in actor, after the API's own gate for this route."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInRequired()
    try:
        authorize(request, s, token)
        actor = current_actor(request, s, token)  # resolved once: the gate's own
    except AuthError:
        raise SignInRequired() from None
    except Forbidden as error:
        raise PageError(403, "forbidden", str(error)) from None
    except NotFound as error:
        raise PageError(404, "not_found", str(error)) from None
    request.state.actor = actor
    request.state.csrf = csrf_token(s.tokens.secret, token)
    return actor


PageActor = Annotated[Actor, Depends(page_actor)]


async def form_fields(request: Request, actor: PageActor) -> dict[str, Any]:
    """The posted form, after the CSRF check; files stay as UploadFile values."""
    form = await request.form()
    # As bytes: compare_digest refuses non-ASCII text (a 500 for a forged token).
    if not hmac.compare_digest(str(form.get("csrf", "")).encode(), request.state.csrf.encode()):
        raise PageError(403, "csrf")
    return {k: v for k, v in form.items() if k != "csrf"}


FormFields = Annotated[dict[str, Any], Depends(form_fields)]


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    lang = lang_of(request)
    actor = getattr(request.state, "actor", None)
    response = TEMPLATES.TemplateResponse(request, name, {
        "t": words(lang), "lang": lang, "v": lambda value: value_label(value, lang),
        "actor": actor,
        # Only to hide links the reader cannot follow; the gate still decides every request.
        "can": lambda action: actor is not None and actor.role in PERMISSIONS[action],
        "csrf": getattr(request.state, "csrf", ""), "local": local_time,
        "why": lambda reason: reason_label(reason, lang), **context,
    }, status_code=status)
    if request.query_params.get("lang") in LANGS:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 86400, samesite="lax")
    return response


def local_time(value: Any, with_time: bool = True) -> str:
    """An ISO time from the API, in China Standard Time."""
    if not value:
        return ""
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        return moment.isoformat(" ", "minutes")
    moment = moment.astimezone(CST)
    return moment.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def problems_of(error: ValidationError | DomainError, lang: str) -> dict[str, str]:
    """Field -> what is wrong, in the reader's words, for showing beside the form."""
    t = words(lang)
    if isinstance(error, ValidationError):
        return {".".join(str(p) for p in e["loc"]) or "form":
                (REASONS.get(e["type"], e["msg"]) if lang == "zh" else e["msg"])
                for e in error.errors()}
    if isinstance(error, InvalidFact):
        return {error.field: reason_label(error.reason, lang)}
    if isinstance(error, Forbidden):
        return {"form": f"{t['forbidden']}：{reason_label(str(error), lang)}"}
    if isinstance(error, ConflictingState):
        return {"form": f"{t['conflict']}：{reason_label(str(error), lang)}"}
    return {"form": f"{t['not_found']}：{error}"}


def status_of(error: ValidationError | DomainError) -> int:
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, ConflictingState):
        return 409
    if isinstance(error, NotFound):
        return 404
    return 422


def caught_up(s: Any, position: int) -> None:
    """Read-your-writes for the page the browser is sent to next (as ?min_position= does)."""
    s.runner.wait_for(position, s.settings.wait_timeout_seconds)


def see_other(url: str) -> RedirectResponse:
    """After a successful POST: the browser GETs the page again (no resubmission)."""
    return RedirectResponse(url, status_code=303)


def _sign_in(request: Request, _: Exception) -> Response:
    if request.method != "GET":
        return see_other("/ui/login")
    return see_other(f"/ui/login?next={quote(request.url.path)}")


def _page_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, PageError)
    return render(request, "error.html", status=error.status, key=error.key,
                  detail=error.detail)


# The pages' query parameters as a reader names them (a bad one is shown on the page).
PARAM_LABELS = {"zh": {"cursor": "翻页位置", "year": "学年", "school_year": "学年",
                       "min_position": "数据位置", "limit": "每页条数"},
                "en": {"cursor": "page position", "year": "school year",
                       "school_year": "school year"}}


def _page_validation(request: Request, error: Exception) -> Response:
    """A bad query or path parameter of a page, named in the reader's words; the API's
    own 422 (infra/web/errors.py) everywhere else."""
    assert isinstance(error, RequestValidationError)
    if not request.url.path.startswith("/ui"):
        return api_validation(request, error)
    lang = lang_of(request)
    labels = PARAM_LABELS.get(lang, {})
    detail = "；".join(
        f"{labels.get(str(e['loc'][-1]), str(e['loc'][-1]))}："
        f"{REASONS.get(e['type'], e['msg']) if lang == 'zh' else e['msg']}"
        for e in error.errors())
    return render(request, "error.html", status=422, key="invalid", detail=detail)


def install(app: Any) -> None:
    app.add_exception_handler(SignInRequired, _sign_in)
    app.add_exception_handler(PageError, _page_error)
    app.add_exception_handler(RequestValidationError, _page_validation)
