"""The request log (infra/web/request_log.py): the request id, the 413 at the door, a line each."""

import json

import pytest

from tests.conftest import Api


def _request_lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()
             if line.startswith("{")]
    return [line for line in lines if line.get("event") == "request"]


def test_the_request_id_is_echoed_or_made_and_logged_with_route_and_status(
        api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    given = api.client.get("/healthz", headers={"X-Request-ID": "probe-42"})
    made = api.get("/children")
    assert given.headers["X-Request-ID"] == "probe-42"
    assert len(made.headers["X-Request-ID"]) == 32
    logged = {line["request_id"]: line for line in _request_lines(capsys)}
    assert logged["probe-42"]["route"] == "/healthz" and logged["probe-42"]["status"] == 200
    mine = logged[made.headers["X-Request-ID"]]
    assert (mine["method"], mine["route"], mine["status"]) == ("GET", "/children", 200)


def test_a_declared_body_over_the_limit_is_413_before_the_app_and_still_logged(
        api: Api, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    limit = api.client.app.state.services.settings.max_body_bytes  # type: ignore[attr-defined]
    response = api.client.post("/children", content=b"{" + b" " * limit + b"}",
                               headers={**api.headers, "Content-Type": "application/json"})
    assert response.status_code == 413 and "body larger than" in response.json()["detail"]
    assert response.headers["X-Request-ID"]
    statuses = [line["status"] for line in _request_lines(capsys)
                if line["request_id"] == response.headers["X-Request-ID"]]
    assert statuses == [413]


def test_every_answer_says_the_servers_own_time_and_reads_are_json(api: Api) -> None:
    """Server-Timing (what the bench splits its figures by), on answers and refusals; the
    reads that encode their own JSON (infra/web/read_answer.py) say it is JSON, in UTF-8."""
    answers = (api.get("/children"), api.client.get("/children"),
               api.get("/emergency/lookup", q="张"))
    assert [r.status_code for r in answers] == [200, 401, 422]
    for response in answers:
        timing = response.headers["Server-Timing"]
        assert timing.startswith("app;dur=") and float(timing.split("=")[1]) >= 0
    registry = api.get("/children")
    assert registry.headers["content-type"] == "application/json"
    assert registry.json()["items"] == [] and registry.json()["next_cursor"] is None
