"""The web edge's character check: every text a request carries, on every route (issue 19).

One dependency of the whole app (create_app), so a route added tomorrow is covered without
anyone remembering it. It runs before the route's own dependencies (the gate, the access
log, Idempotency-Key), so a refused request touches no store. It reads:
path parameters, query parameters (names and values), the Idempotency-Key header (stored),
every string and key of a JSON body, every field of a form and the names of uploaded files.

The edge refuses what no text may hold (services/text.py): control characters, Unicode
non-characters and lone surrogates, and tab or line breaks in a path, a header, a file
name, a query parameter or a form field, all single-line but the reasons a reader writes
and the fields that the commands declare free text. In a JSON body, the command's own model
(services/commands.Command) decides which fields are single-line.
The API answers 422 naming the field; a page shows the error page with the field's label
and the reason in the reader's language.
"""

import json
from collections.abc import Iterator
from functools import cache
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.datastructures import UploadFile

from infra.web.pages.i18n import words
from infra.web.pages.session import lang_of, render
from services import text
from services.commands import free_text_names

# Parameters that hold a reader's reason (infra/web/authorize.Purpose, BreakGlass).
REASON_PARAMS = frozenset({"purpose", "break_glass"})
STORED_HEADERS = ("idempotency-key",)
JSON_TYPES = ("application/json", "+json")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

Found = tuple[tuple[Any, ...], str, bool]  # (where, name...), the text, multiline allowed


class BadText(Exception):
    """A text with a forbidden character: where it was, and the problem's type and reason."""

    def __init__(self, loc: tuple[Any, ...], kind: str, reason: str) -> None:
        super().__init__(reason)
        self.loc, self.kind, self.reason = loc, kind, reason


async def refuse_bad_text(request: Request) -> None:
    """The app's first dependency: raises on the first forbidden text the request holds."""
    for loc, value, multiline in [*_plain_texts(request), *await _body_texts(request)]:
        bad = text.problem(value, multiline)
        if bad:
            raise BadText(loc, *bad)


def install(app: FastAPI) -> None:
    """Before any router is included: every route then starts with the check."""
    app.router.dependencies.insert(0, Depends(refuse_bad_text))
    app.add_exception_handler(BadText, _answer)  # type: ignore[arg-type]


def _answer(request: Request, error: BadText) -> Response:
    """422 naming the field: as JSON for the API (the shape of infra/web/errors), as the
    error page on a page, with the field's label and the reason in the reader's words."""
    field = text.shown(".".join(str(p) for p in error.loc if p != "body"))
    if request.url.path.startswith("/ui"):
        lang, name = lang_of(request), text.shown(str(error.loc[-1]))
        if error.loc[-1] == "filename":
            name = "file"
        reason = text.REASONS_ZH[error.kind] if lang == "zh" else error.reason
        label = words(lang).get(name, name)
        return render(request, "error.html", status=422, key="invalid",
                      detail=f"「{label}」{reason}" if lang == "zh" else f"{label}: {reason}")
    return JSONResponse({"detail": "invalid input", "errors": [
        {"field": field, "reason": error.reason, "type": error.kind}]}, status_code=422)


def _plain_texts(request: Request) -> Iterator[Found]:
    for name, value in request.path_params.items():
        if isinstance(value, str):
            yield ("path", name), value, False
    for name, value in request.query_params.multi_items():
        yield ("query", name), name, False
        yield ("query", name), value, name in REASON_PARAMS
    for name in STORED_HEADERS:
        for value in request.headers.getlist(name):
            yield ("header", name.title()), value, False


async def _body_texts(request: Request) -> list[Found]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind.startswith(FORM_TYPES):
        return await _form_texts(request)
    if kind.endswith(JSON_TYPES) or not kind:  # FastAPI reads a body without a type as JSON
        try:
            body = json.loads(await request.body() or b"null")
        except ValueError:
            return []  # not JSON: the route answers that itself (400 or 422)
        return list(_json_texts(body, ("body",)))
    return []


async def _form_texts(request: Request) -> list[Found]:
    try:
        await request.body()  # kept: a form this parse refuses is still whole for the route
    except RuntimeError:
        pass  # FastAPI has parsed it (a route with Form parameters), and kept the form
    try:
        form = await request.form()  # parsed once: the route reuses it
    except Exception:  # noqa: BLE001 - a malformed form is the route's to refuse (400)
        return []
    found: list[Found] = []
    free = _free_text_fields()
    for name, value in form.multi_items():
        found.append((("body", name), name, False))
        if isinstance(value, UploadFile):
            found.append((("body", name, "filename"), value.filename or "", False))
        else:
            found.append((("body", name), value, name in free))
    return found


@cache
def _free_text_fields() -> frozenset[str]:
    return REASON_PARAMS | free_text_names()


def _json_texts(value: Any, loc: tuple[Any, ...]) -> Iterator[Found]:
    if isinstance(value, str):
        yield loc, value, True
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _json_texts(item, (*loc, index))
    elif isinstance(value, dict):
        for key, item in value.items():
            yield (*loc, key), key, False
            yield from _json_texts(item, (*loc, key))
