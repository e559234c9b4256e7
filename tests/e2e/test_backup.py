"""Backup and restore (issue #10 item 6) on both stores: export, import into an empty store,
the same chain head and identical views; a cut or altered file is refused where it breaks."""

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from domain.actor import SYSTEM
from infra.backup import (BackupError, StoreNotEmpty, export_events, import_events, keys_path,
                          restore)
from infra.cli import app as cli
from infra.demo import demo_id, load_demo
from infra.services import VIEW_CLASSES, Services, build_services
from infra.settings import Settings
from services import commands as c
from tests.conftest import PG_URL, Api, _pg_available
from tests.e2e.test_grants import RawStore, tamper

NOW = datetime.now(UTC)
# Store tables that are not views: compared elsewhere (events) or not restored (keys, snapshots,
# the read audit: lists read before the backup are in the access log, which is not in it).
NOT_VIEWS = {"stored_events", "qianshou_events", "stored_snapshots", "qianshou_snapshots",
             "idempotency_keys", "auth_sessions", "access_log"}  # sign-ins and reads: not restored


def _fresh_url(database_url: str, tmp_path: Path, name: str) -> Iterator[str]:
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/{name}.db"
        return
    schema = f"r_{uuid.uuid4().hex[:12]}"
    yield f"{PG_URL}?schema={schema}"
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def target(database_url: str, tmp_path: Path) -> Iterator[Services]:
    """A second, empty store of the same kind as the source."""
    for url in _fresh_url(database_url, tmp_path, "restored"):
        built = build_services(Settings(database_url=url, secret_key="s" * 40))
        yield built
        built.close()


def post(api: Api, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post(path, body)
    assert response.status_code in (200, 201), (path, response.text)
    return response.json()  # type: ignore[no-any-return]


def realistic_store(api: Api) -> Services:
    """The demo (helpers, children, pairings, visits, feedback, exams) plus one of each of the
    other kinds of fact: counselling, honour, violation, status, incident, grant, publication."""
    services: Services = api.client.app.state.services  # type: ignore[attr-defined]
    load_demo(services, children=6)
    if services.db.is_pg:  # a save that rolled back: PostgreSQL leaves its position unused
        with services.db.transaction() as cur:
            table = services.db.table(services.app.recorder.events_table_name)
            cur.execute("SELECT nextval(pg_get_serial_sequence(?, 'notification_id'))", (table,))
    cid = demo_id("child", 0)
    when = (NOW - timedelta(days=2)).isoformat()
    post(api, f"/children/{cid}/counselling-sessions",
         {"occurred_at": when, "topic": "想念父母", "risk_level": "high", "notes": "需要关注"})
    post(api, f"/children/{cid}/honours", {"school_year": 2025, "title": "merit_student"})
    post(api, f"/children/{cid}/conduct-violations",
         {"occurred_at": when, "severity": "minor", "description": "迟到"})
    post(api, f"/children/{demo_id('child', 1)}/status",
         {"status": "no_longer_left_behind", "reason": "父母返乡"})
    incident = post(api, "/incidents", {
        "child_id": cid, "category": "injury", "severity": "medium", "occurred_at": when,
        "location": "学校操场", "description": "摔伤膝盖"})
    post(api, f"/incidents/{incident['id']}/contact-attempts",
         {"contact_role": "guardian", "phone": "13800000000", "reached": True})
    post(api, f"/incidents/{incident['id']}/resolution", {"outcome": "已就医"})
    post(api, "/programmes", {"code": "LIUYI", "name": "六一慰问", "funding_agency": "community",
                              "cap_fen": 20000, "period_kind": "yearly"})
    grant = post(api, "/grants", {"child_id": cid, "programme": "LIUYI", "amount_fen": 20000,
                                  "period": "2026", "kind": "in_kind", "description": "书包"})
    post(api, "/users", {"username": "zheng.dudao", "password": "supervisor-pw-1",
                         "agency": "township", "role": "township_supervisor",
                         "township": "白沙关镇"})
    payer = api.as_user("zheng.dudao", "supervisor-pw-1")  # the approver may not also pay
    post(payer, f"/grants/{grant['id']}/disbursement",
         {"occurred_at": when, "method": "in_kind", "reference": "签收单1"})
    post(api, "/assessments/2025/publication", {})
    services.runner.catch_up()
    return services


def view_tables(services: Services) -> dict[str, list[str]]:
    """Every table in the store's database but the events, as sorted row texts."""
    with services.db.reading() as cur:
        if services.db.is_pg:
            names = [r["table_name"] for r in cur.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema=?",
                (services.app.factory.datastore.schema,)).fetchall()]  # type: ignore[attr-defined]
        else:
            names = [r["name"] for r in cur.execute(
                "SELECT name FROM sqlite_master WHERE type='table'").fetchall()]
        return {name: sorted(json.dumps(row, sort_keys=True, default=str) for row in
                             cur.execute(f"SELECT * FROM {services.db.table(name)}").fetchall())
                for name in names if name not in NOT_VIEWS}


def ledger_head(services: Services) -> dict[str, Any]:
    with services.db.reading() as cur:
        return services.views["ledger"].head(cur)  # type: ignore[no-any-return]


def positions(services: Services) -> list[int]:
    return [n.id for n in services.app.recorder.select_notifications(1, 100_000)]


def services_gap(services: Services) -> int:
    found = positions(services)
    return found[-1] - len(found)


def test_restore_gives_the_same_chain_head_and_identical_views(
        api: Api, target: Services, tmp_path: Path) -> None:
    source = realistic_store(api)
    path = tmp_path / "events.jsonl"
    exported = export_events(source.app.recorder, path, keys=source.app.keys)
    assert (exported.position, exported.head_hash) == tuple(ledger_head(source).values())

    imported = import_events(target.app, target.db, path)
    target.runner.catch_up()

    assert imported == exported
    assert ledger_head(target) == ledger_head(source)
    assert positions(target) == positions(source)  # gaps included (PostgreSQL has one)
    assert services_gap(source) == (1 if source.db.is_pg else 0)
    before, after = view_tables(source), view_tables(target)
    assert set(after) == set(before) and len(before) >= 20
    for table in before:
        assert after[table] == before[table], table
    print(f"\nrestored {exported.events} events to position {exported.position}, "
          f"{len(before)} view tables, {sum(map(len, before.values()))} rows identical")


def test_the_restored_store_takes_new_events_after_the_last_position(
        api: Api, target: Services, tmp_path: Path) -> None:
    source: Services = api.client.app.state.services  # type: ignore[attr-defined]
    load_demo(source, children=1)
    path = tmp_path / "events.jsonl"
    exported = export_events(source.app.recorder, path, keys=source.app.keys)
    import_events(target.app, target.db, path)
    answer = target.handlers.create_user(c.CreateUser(
        username="after.restore", password="a-long-password", agency="township",
        role="admin"), SYSTEM, None)
    assert answer.position == exported.position + 1
    target.runner.catch_up()
    with target.db.reading() as cur:
        assert target.views["ledger"].verify(cur, target.app.recorder)["ok"] is True


def _exported(api: Api, tmp_path: Path) -> tuple[Path, list[str]]:
    source: Services = api.client.app.state.services  # type: ignore[attr-defined]
    load_demo(source, children=2)
    path = tmp_path / "events.jsonl"
    export_events(source.app.recorder, path, keys=source.app.keys)
    return path, path.read_text(encoding="utf-8").splitlines(keepends=True)


def _refused(target: Services, path: Path) -> BackupError:
    with pytest.raises(BackupError) as refused:
        import_events(target.app, target.db, path)
    assert target.app.max_position() == 0  # nothing written
    return refused.value


def test_a_file_cut_mid_line_is_refused_at_that_line(
        api: Api, target: Services, tmp_path: Path) -> None:
    path, lines = _exported(api, tmp_path)
    path.write_text("".join(lines[:10]) + lines[10][:40], encoding="utf-8")
    error = _refused(target, path)
    assert (error.line, error.position) == (11, json.loads(lines[9])["position"])
    assert "cut short" in str(error) and "line 11" in str(error)


def test_a_file_cut_at_a_line_end_is_refused_for_its_missing_trailer(
        api: Api, target: Services, tmp_path: Path) -> None:
    path, lines = _exported(api, tmp_path)
    path.write_text("".join(lines[:-3]), encoding="utf-8")
    error = _refused(target, path)
    assert error.line == len(lines) - 2 and "without its trailer" in error.reason
    assert error.position == json.loads(lines[-4])["position"]


def test_an_altered_event_is_refused_at_its_line_and_position(
        api: Api, target: Services, tmp_path: Path) -> None:
    path, lines = _exported(api, tmp_path)
    number = next(i for i, line in enumerate(lines) if '"domain.child:Child.Registered"' in line)
    altered = json.loads(lines[number])
    assert altered["state"]["profile"]["class_name"].startswith("六(")
    altered["state"]["profile"]["class_name"] = "六(9)班"  # a changed class: same shape
    lines[number] = json.dumps(altered, ensure_ascii=False) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    error = _refused(target, path)
    assert (error.line, error.position) == (number + 1, altered["position"])
    assert "chain link does not match" in error.reason


def test_a_removed_line_is_refused_at_the_line_after_it(
        api: Api, target: Services, tmp_path: Path) -> None:
    path, lines = _exported(api, tmp_path)
    path.write_text("".join(lines[:5] + lines[6:]), encoding="utf-8")
    error = _refused(target, path)
    assert (error.line, error.position) == (6, json.loads(lines[6])["position"])


def test_a_line_that_is_not_utf8_json_is_refused_at_that_line(
        api: Api, target: Services, tmp_path: Path) -> None:
    path, lines = _exported(api, tmp_path)
    path.write_bytes("".join(lines[:7]).encode() + b"\xff\xfe{}\n" + "".join(lines[8:]).encode())
    error = _refused(target, path)
    assert (error.line, error.position) == (8, json.loads(lines[6])["position"])
    assert "not JSON" in error.reason and "after position" in str(error)


def test_a_fault_found_while_writing_rolls_the_whole_import_back(
        api: Api, target: Services, tmp_path: Path) -> None:
    """restore() checks again as it writes (the file may change after the check): the fault at
    the last event comes after a thousand and more inserts, and none of them stays."""
    path, lines = _exported(api, tmp_path)
    last = json.loads(lines[-2])
    last["originator_version"] += 1
    lines[-2] = json.dumps(last, ensure_ascii=False) + "\n"
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(BackupError):
        restore(target.app, target.db, path)
    assert target.app.max_position() == 0


def test_import_refuses_a_store_that_holds_events(api: Api, tmp_path: Path) -> None:
    source: Services = api.client.app.state.services  # type: ignore[attr-defined]
    load_demo(source, children=1)
    path = tmp_path / "events.jsonl"
    export_events(source.app.recorder, path, keys=source.app.keys)
    count = source.app.max_position()
    with pytest.raises(StoreNotEmpty):
        import_events(source.app, source.db, path)
    with pytest.raises(StoreNotEmpty):  # the check inside the transaction, too
        restore(source.app, source.db, path)
    assert source.app.max_position() == count


def test_cli_export_and_import(database_url: str, tmp_path: Path,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("QIANSHOU_SECRET_KEY", "cli-test-secret-" + "x" * 32)
    monkeypatch.setenv("QIANSHOU_DATABASE_URL", database_url)
    assert runner.invoke(cli, ["demo", "--children", "3"]).exit_code == 0
    path = tmp_path / "backup.jsonl"
    exported = runner.invoke(cli, ["export", "events", str(path)])
    assert exported.exit_code == 0, exported.output
    head = json.loads(path.read_text(encoding="utf-8").splitlines()[-1])["head_hash"]
    assert head in exported.output and oct(path.stat().st_mode)[-3:] == "600"
    refused = runner.invoke(cli, ["import", "events", str(path)])
    assert refused.exit_code == 2 and "empty" in refused.output
    for url in _fresh_url(database_url, tmp_path, "cli-restored"):
        monkeypatch.setenv("QIANSHOU_DATABASE_URL", url)
        imported = runner.invoke(cli, ["import", "events", str(path)])
        assert imported.exit_code == 0, imported.output
        assert head in imported.output and "views" in imported.output
        restored = build_services(Settings())
        try:
            assert ledger_head(restored)["head_hash"] == head
        finally:
            restored.close()


@pytest.mark.skipif(not _pg_available(), reason="PostgreSQL not reachable")
def test_sqlite_backup_restores_into_postgresql(tmp_path: Path) -> None:
    source = build_services(Settings(database_url=f"sqlite:///{tmp_path}/src.db",
                                     secret_key="s" * 40))
    urls = _fresh_url("postgres", tmp_path, "pg")
    target = build_services(Settings(database_url=next(urls), secret_key="s" * 40))
    try:
        load_demo(source, children=4)
        source.runner.catch_up()
        path = tmp_path / "events.jsonl"
        exported = export_events(source.app.recorder, path, keys=source.app.keys)
        import_events(target.app, target.db, path)
        target.runner.catch_up()
        assert ledger_head(target) == ledger_head(source)
        # Values differ in type between the stores (booleans, numbers): compare row counts.
        counts = [{t.removeprefix("qianshou_"): len(rows) for t, rows in view_tables(s).items()}
                  for s in (source, target)]
        assert counts[0] == counts[1] and counts[0]["tracking"] >= len(VIEW_CLASSES)
        assert target.runner.positions == source.runner.positions
        assert exported.events == source.app.max_position()
    finally:
        source.close()
        target.close()
        next(urls, None)  # drops the schema


def test_export_fails_when_the_store_no_longer_matches_its_own_ledger(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runner = CliRunner()
    monkeypatch.setenv("QIANSHOU_SECRET_KEY", "cli-test-secret-" + "x" * 32)
    monkeypatch.setenv("QIANSHOU_DATABASE_URL", database_url)
    assert runner.invoke(cli, ["demo", "--children", "1"]).exit_code == 0
    assert runner.invoke(cli, ["projections", "rebuild"]).exit_code == 0  # the ledger's links
    tamper(RawStore(database_url), "change", 3, 0)
    exported = runner.invoke(cli, ["export", "events", str(tmp_path / "backup.jsonl")])
    assert exported.exit_code == 1 and "qianshou ledger verify" in exported.output


def test_a_backup_without_its_keys_file_is_refused(
        api: Api, target: Services, tmp_path: Path) -> None:
    """Without the seal keys every personal field would restore as erased: refused whole."""
    path, _ = _exported(api, tmp_path)
    keys_path(path).unlink()
    error = _refused(target, path)
    assert "keys file" in error.reason and target.app.max_position() == 0
