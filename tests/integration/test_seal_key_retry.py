"""A child's seal key commits with the child's events on every path, retries included
(issue 19, finding 1), and a committed key is in the cache for the next load."""

from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from eventsourcing.persistence import OperationalError
from infra.services import Services
from infra.viewdb import ViewCursor
from tests.conftest import Api, child_body
from tests.integration.test_sealing import registered


def _services(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined, no-any-return]


def _break_the_first_attempt_after_its_keys(services: Services) -> list[str]:
    """The next save writes its keys, then loses its connection: PostgreSQL's
    backend is terminated (a real broken connection, which the recorder tries once more);
    SQLite has no broken connection to lose, so the attempt fails and is tried once more
    the way the PostgreSQL recorder does."""
    recorder: Any = services.app.recorder
    broken: list[str] = []
    write_keys = recorder._insert_seal_keys

    def keys_then_break(cursor: Any) -> None:
        write_keys(cursor)
        if not broken:
            broken.append("once")
            if services.app.keys.is_pg:
                cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
            else:
                raise OperationalError("the connection broke after the keys were sent")

    recorder._insert_seal_keys = keys_then_break
    if not services.app.keys.is_pg:
        insert = recorder._insert_events_in_one_transaction

        def once_more(*args: Any, **kwargs: Any) -> Any:
            try:
                return insert(*args, **kwargs)
            except OperationalError:
                return insert(*args, **kwargs)

        recorder._insert_events_in_one_transaction = once_more
    return broken


def _stored_key(services: Services, child_id: str) -> bytes | None:
    keys = services.app.keys
    with keys.datastore.transaction(commit=False) as raw:
        row = ViewCursor(raw, keys.is_pg).execute(
            f"SELECT secret FROM {keys.table} WHERE key_id=?", (child_id,)).fetchone()
    return None if row is None or row["secret"] is None else bytes(row["secret"])


def test_a_save_retried_after_a_broken_connection_commits_its_seal_key(
        client: TestClient, api: Api) -> None:
    services = _services(client)
    broken = _break_the_first_attempt_after_its_keys(services)
    body, key = child_body(name="李重试"), {"Idempotency-Key": "retry-1"}
    answer = api.post("/children", body, **key)
    assert answer.status_code == 201, answer.text
    assert broken == ["once"]  # the fault did happen, inside the save
    child_id = answer.json()["id"]
    replay = api.post("/children", body, **key)  # the Idempotency-Key committed with them
    assert replay.status_code == 201 and replay.json() == answer.json()
    assert _stored_key(services, child_id) is not None
    services.app.keys._cache.clear()  # read the key from the store, as another process would
    profile = api.get(f"/children/{child_id}", min_position=answer.json()["position"])
    assert profile.json()["profile"]["name"] == "李重试"


def test_a_committed_key_is_cached_for_the_next_load(client: TestClient, api: Api) -> None:
    services = _services(client)
    keys = services.app.keys
    child_id = api.post("/children", child_body(name="李缓存")).json()["id"]
    assert keys._cache[child_id][0] == _stored_key(services, child_id)
    reads: list[str] = []
    fetch = keys._fetch
    keys._fetch = lambda key_id: reads.append(key_id) or fetch(key_id)  # type: ignore
    assert services.app.repository.get(UUID(child_id)).profile["name"] == "李缓存"
    assert reads == []  # no read of the key on the load after the save


def test_the_key_of_a_save_that_failed_for_good_is_never_written(services: Services) -> None:
    recorder: Any = services.app.recorder
    write_keys = recorder._insert_seal_keys

    def refuse(cursor: Any) -> None:
        """Keys sent, then a statement the database refuses: the transaction rolls back."""
        write_keys(cursor)
        cursor.execute("SELECT * FROM no_such_table")

    recorder._insert_seal_keys = refuse
    failed = registered(services)
    with pytest.raises(Exception, match="no_such_table|no such table"):
        services.app.save(failed)
    recorder._insert_seal_keys = write_keys
    saved = registered(services)
    services.app.save(saved)  # the same thread's next save
    assert _stored_key(services, str(failed.id)) is None
    assert _stored_key(services, str(saved.id)) is not None
    assert services.app.keys.pending_rows()[1] == []
