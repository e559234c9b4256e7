"""A keep-alive HTTP/1.1 client on the standard library, for latency figures.

The reads bench times one request at a time on a 2-core machine whose other core runs the
server's database work; httpx's own work per request (about 0.7 ms at p50 and 3 ms at p99
here, bench/RESULTS.md) was then part of every figure. http.client does the least a
client can. The server's own time comes back in its Server-Timing header
(infra/web/request_log.py), so the figures can be split into server and the rest.
"""

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit


IDLE_SECONDS = 4.0  # uvicorn closes an idle keep-alive connection after 5 s


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    server_ms: float

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class KeepAlive:
    """Requests over one connection; a GET is sent again on a new one if the server had
    closed it."""

    def __init__(self, base_url: str, token: str, timeout: float = 60) -> None:
        where = urlsplit(base_url)
        self._host, self._port, self._timeout = where.hostname, where.port, timeout
        self._headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
        self._conn = self._connect()
        self._used_at = time.monotonic()

    def _connect(self) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self._host or "127.0.0.1", self._port,
                                          timeout=self._timeout)

    def get(self, path: str, params: dict[str, Any] | None = None) -> Answer:
        target = f"{path}?{urlencode(params)}" if params else path
        return self._send("GET", target, None)

    def post(self, path: str, body: Any) -> Answer:
        """A JSON body; a command is not sent twice when the connection drops (the caller
        sees the error), since it may have been carried out. A connection left idle for
        longer than uvicorn keeps one open is replaced before the command goes."""
        if time.monotonic() - self._used_at > IDLE_SECONDS:
            self._conn.close()
            self._conn = self._connect()
        return self._request("POST", path, json.dumps(body).encode())

    def _send(self, method: str, target: str, body: bytes | None) -> Answer:
        try:
            return self._request(method, target, body)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self._conn.close()
            self._conn = self._connect()
            return self._request(method, target, body)

    def _request(self, method: str, target: str, body: bytes | None) -> Answer:
        headers = (self._headers if body is None
                   else {**self._headers, "Content-Type": "application/json"})
        self._used_at = time.monotonic()
        self._conn.request(method, target, body=body, headers=headers)
        response = self._conn.getresponse()
        body = response.read()
        timing = response.getheader("Server-Timing") or ""
        server_ms = float(timing.split("dur=")[1]) if "dur=" in timing else float("nan")
        return Answer(response.status, body, server_ms)

    def close(self) -> None:
        self._conn.close()
