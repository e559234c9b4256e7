"""Limits: a flood degrades to 503 + Retry-After and loses nothing; bodies, fields and pages
have caps answered with a 4xx naming the field; a slow query on PostgreSQL is cancelled."""

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient

from infra.services import build_services
from infra.web.app import create_app
from tests.faults.harness import (ADMIN, PASSWORD, WHEN, Load, Server, assert_exactly_once,
                                  make_admin, markers_in_store, register_command, settings_for,
                                  visit_command)

pytestmark = pytest.mark.faults

MAX_IN_FLIGHT = 8
FLOOD = 200


async def flood(load: Load, child_id: str) -> tuple[Counter[str], float, int]:
    """FLOOD commands at once, and /healthz probes among them; returns the outcomes."""
    outcomes: Counter[str] = Counter()
    retry_after_missing = 0
    limits = httpx.Limits(max_connections=FLOOD + 10)
    async with httpx.AsyncClient(base_url=load.url, timeout=60, limits=limits,
                                 headers={"Authorization": f"Bearer {load.token}"}) as client:

        async def one(n: int) -> None:
            nonlocal retry_after_missing
            cmd = visit_command(f"flood-{n}", child_id)
            load.sent[cmd.key] = cmd
            response = await client.post(cmd.path, json=cmd.body,
                                         headers={"Idempotency-Key": cmd.key})
            outcomes[str(response.status_code)] += 1
            if response.status_code == 503 and not response.headers.get("Retry-After"):
                retry_after_missing += 1
            if response.status_code == 200:
                load.acknowledged[cmd.key] = response.json()["position"]

        async def probe() -> None:
            outcomes[f"healthz {(await client.get('/healthz')).status_code}"] += 1

        started = time.monotonic()
        await asyncio.gather(*[one(n) for n in range(FLOOD)], *[probe() for _ in range(5)])
        return outcomes, time.monotonic() - started, retry_after_missing


def test_a_flood_degrades_to_503_with_retry_after_and_loses_nothing(database_url: str,
                                                                    tmp_path: Path) -> None:
    settings = settings_for(database_url)
    make_admin(settings)
    server = Server(database_url, tmp_path / "serve.log",
                    QIANSHOU_MAX_IN_FLIGHT=str(MAX_IN_FLIGHT)).start()
    try:
        load = Load(server.url, server.token(), [])
        with load.client() as client:
            load.send(client, register_command("the-child"))
        child_id = str(load.answers.pop("the-child")["id"])
        load.sent.clear()
        load.acknowledged.clear()
        outcomes, took, retry_after_missing = asyncio.run(flood(load, child_id))
        print(f"\nflood of {FLOOD} concurrent commands, at most {MAX_IN_FLIGHT} in flight: "
              f"{dict(outcomes)} in {took:.1f}s")
        assert set(outcomes) <= {"200", "503", "healthz 200"}, outcomes  # never a 500
        assert outcomes["503"] > 0 and outcomes["200"] > 0
        assert outcomes["healthz 200"] == 5  # the probes are not turned away
        assert retry_after_missing == 0

        load.resend_unacknowledged()  # as told by Retry-After
        assert_exactly_once(load, markers_in_store(settings), "after resending the 503s")
    finally:
        server.stop()


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    settings = settings_for(database_url)
    make_admin(settings)
    with TestClient(create_app(settings)) as test_client:
        token = test_client.post("/auth/token", data={"username": ADMIN, "password": PASSWORD})
        test_client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield test_client


def field_of(response: httpx.Response) -> set[str]:
    return {e["field"] for e in response.json()["errors"]}


def test_bodies_fields_and_pages_have_caps_named_in_the_answer(client: TestClient) -> None:
    child = client.post("/children", json=register_command("k").body).json()
    visits = f"/children/{child['id']}/visits"
    limit = 256 * 1024

    declared = client.post(visits, content=b"x" * (limit + 1),
                           headers={"Content-Type": "application/json"})
    chunked = client.post(visits, content=iter([b"x" * 65536] * 5),  # no Content-Length
                          headers={"Content-Type": "application/json"})
    long_text = client.post(visits, json={"occurred_at": WHEN, "kind": "home",
                                          "findings": "长" * 4001})
    long_key = client.post(visits, headers={"Idempotency-Key": "k" * 201},
                           json={"occurred_at": WHEN, "kind": "home", "findings": "好"})
    big_page = client.get("/children", params={"limit": 501})
    print(f"\nbody {limit + 1} bytes: {declared.status_code}; chunked 327680 bytes: "
          f"{chunked.status_code}; findings 4001 chars: {long_text.status_code}; "
          f"Idempotency-Key 201 chars: {long_key.status_code}; limit=501: "
          f"{big_page.status_code}")
    assert declared.status_code == 413 and chunked.status_code == 413
    assert long_text.status_code == 422 and field_of(long_text) == {"findings"}
    assert long_key.status_code == 422 and "Idempotency-Key" in field_of(long_key).pop()
    assert big_page.status_code == 422 and field_of(big_page) == {"query.limit"}
    assert client.get("/children", params={"limit": 500}).status_code == 200


def test_a_slow_query_on_postgresql_is_cancelled_by_the_statement_timeout(
        database_url: str) -> None:
    if not database_url.startswith("postgresql"):
        pytest.skip("statement_timeout is a PostgreSQL setting")
    settings = settings_for(database_url).model_copy(update={"pg_statement_timeout_seconds": 1})
    services = build_services(settings)
    try:
        started = time.monotonic()
        with pytest.raises(OperationalError, match="statement timeout"):
            with services.db.reading() as cur:
                cur.execute("SELECT pg_sleep(5)")
        took = time.monotonic() - started
    finally:
        services.close()
    print(f"\na 5 s query with a 1 s statement timeout was cancelled after {took:.1f}s")
    assert took < 3
