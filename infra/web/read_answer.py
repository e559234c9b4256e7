"""The body of a read, encoded once, here, in the endpoint's own thread.

A plain `def` endpoint that returns a dict has FastAPI validate and encode it in a second
trip to the thread pool (serialize_response); the reads people wait on (lookup, chain,
file, registry) answer with their JSON instead. Their dicts are JSON already (view rows
and files stored as JSON); jsonable_encoder is the fallback for anything that is not.
"""

import json
from typing import Any

from fastapi.encoders import jsonable_encoder
from starlette.responses import Response


def read_answer(content: Any, status_code: int = 200) -> Response:
    try:
        body = json.dumps(content, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except TypeError:  # a datetime or a UUID: the encoder FastAPI would have used
        body = json.dumps(jsonable_encoder(content), ensure_ascii=False, allow_nan=False,
                          separators=(",", ":"))
    return Response(body.encode(), status_code=status_code, media_type="application/json")
