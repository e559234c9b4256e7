"""The error bodies the API really sends, documented in /openapi.json for every route.

FastAPI would otherwise document its own 422 shape ({"detail": [...]}), which infra/web/errors.py
replaces with {"detail", "errors": [{"field", "reason"}]}: clients and the fuzzing test
(tests/e2e/test_fuzz.py) read the document, so it must say what is sent.
"""

from typing import Any

from pydantic import BaseModel


class FieldProblem(BaseModel):
    field: str
    reason: str
    type: str | None = None


class Invalid(BaseModel):
    """422: each bad field and why."""

    detail: str
    errors: list[FieldProblem]


class Refusal(BaseModel):
    """Any other refusal: what went wrong (a conflict may add the ids it conflicts with)."""

    detail: str


RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Refusal, "description": "no token, or a bad or disabled one"},
    403: {"model": Refusal, "description": "the role may not do this"},
    404: {"model": Refusal, "description": "unknown id, or outside the caller's jurisdiction"},
    409: {"model": Refusal, "description": "a state that forbids the command, or a reused key"},
    422: {"model": Invalid, "description": "invalid input: each bad field and why"},
    503: {"model": Refusal, "description": "the database is away, or the views did not reach "
          "min_position in time; see Retry-After"},
}
