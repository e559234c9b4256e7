"""The body of a read, encoded once, here, in the endpoint's own thread.

A plain `def` endpoint that returns a dict has FastAPI validate and encode it in a second
trip to the thread pool (serialize_response); the reads people wait on (lookup, chain,
file, registry) answer with their JSON instead. Their dicts are JSON already (view rows
and files stored as JSON); jsonable_encoder is the fallback for anything that is not.
"""

from typing import Any

from fastapi.encoders import jsonable_encoder
from starlette.responses import JSONResponse


def read_answer(content: Any, status_code: int = 200) -> JSONResponse:
    try:
        return JSONResponse(content, status_code=status_code)
    except TypeError:  # a datetime or a UUID: the encoder FastAPI would have used
        return JSONResponse(jsonable_encoder(content), status_code=status_code)
