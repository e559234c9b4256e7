"""Schema evolution (issue #10 item 5): a committed store of version-1 visits still loads.

tests/fixtures/store_v1.sqlite was written once by tests/fixtures/make_store_v1.py with
Child.VisitRecorded in its version-1 shape (no child_seen). Today's code upcasts those
visits (upcast_v1_v2), loads every aggregate and rebuilds every view from them. On
PostgreSQL the same events arrive through the backup import.
"""

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from domain.child import Child
from infra.backup import export_events, import_events
from infra.services import Services, build_services
from infra.settings import Settings
from infra.web.app import create_app
from tests.conftest import Api, token_for
from tests.fixtures.make_store_v1 import ADMIN_PASSWORD, fixture_id

FIXTURE = Path(__file__).parents[1] / "fixtures" / "store_v1.sqlite"
VISIT = "domain.child:Child.VisitRecorded"
SECRET = "evolution-secret-" + "x" * 32


def _services(url: str) -> Services:
    return build_services(Settings(database_url=url, secret_key=SECRET, log_json=True))


@pytest.fixture
def v1_url(database_url: str, tmp_path: Path) -> str:
    """A copy of the committed store (never the file itself), on the store under test."""
    copy = tmp_path / "store_v1.sqlite"
    shutil.copy(FIXTURE, copy)
    if database_url.startswith("sqlite"):
        return f"sqlite:///{copy}"
    source, target = _services(f"sqlite:///{copy}"), _services(database_url)
    try:
        export_events(source.app.recorder, tmp_path / "v1.jsonl", keys=source.app.keys)
        import_events(target.app, target.db, tmp_path / "v1.jsonl")
    finally:
        source.close()
        target.close()
    return database_url


@pytest.fixture
def v1(v1_url: str) -> Iterator[Services]:
    built = _services(v1_url)
    yield built
    built.close()


def test_the_fixture_holds_version_1_visits() -> None:
    """Guards the fixture itself: regenerating it with today's code would prove nothing."""
    with sqlite3.connect(FIXTURE) as db:
        states = [json.loads(r[0]) for r in db.execute(
            "SELECT state FROM stored_events WHERE topic=?", (VISIT,))]
        total = db.execute("SELECT COUNT(*) FROM stored_events").fetchone()[0]
    assert len(states) == 6 and 20 <= total <= 60
    assert all("child_seen" not in s and "class_version" not in s for s in states)


def test_old_visits_load_through_upcasting(v1: Services) -> None:
    visits = []
    for n in range(3):
        child = v1.app.repository.get(fixture_id("child", n))
        assert isinstance(child, Child) and child.version >= 5
        events = list(v1.app.repository.event_store.get(child.id))
        visits += [e for e in events if isinstance(e, Child.VisitRecorded)]
    assert len(visits) == 6
    assert all(v.child_seen is None and v.findings for v in visits)  # the default of version 2


def test_every_view_rebuilds_from_the_old_store(v1: Services) -> None:
    total = v1.app.max_position()
    assert v1.runner.rebuild() == total
    assert v1.runner.positions and all(p == total for p in v1.runner.positions.values())
    with v1.db.reading() as cur:
        children = v1.registry.page(cur, {}, None, 0, 100)
        assert v1.views["ledger"].verify(cur, v1.app.recorder)["ok"] is True
    assert len(children) == 3
    print(f"\nrebuilt {len(v1.runner.views)} views from {total} stored events (6 of version 1)")


def test_the_file_shows_old_visits_as_not_stated_beside_new_ones(v1_url: str) -> None:
    child_id = fixture_id("child", 0)
    with TestClient(create_app(Settings(database_url=v1_url, secret_key=SECRET,
                                        log_json=True))) as client:
        api = Api(client, token_for(client, "admin", ADMIN_PASSWORD))
        recorded = api.post(f"/children/{child_id}/visits", {
            "occurred_at": "2025-12-01T10:00:00+08:00", "kind": "home", "findings": "见到孩子",
            "child_seen": True})
        assert recorded.status_code == 200, recorded.text
        file = api.get(f"/children/{child_id}", min_position=recorded.json()["position"])
        assert file.status_code == 200, file.text
    seen = [e["data"]["child_seen"] for e in file.json()["timeline"]
            if e["type"] == "VisitRecorded"]
    assert seen == [True, None, None]  # newest first: the new visit, then the two of version 1
