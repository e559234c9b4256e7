"""`qianshou import registry FILE.xlsx` on both stores: per-cell report, nobody twice."""

from pathlib import Path
from uuid import UUID

import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.services import build_services
from infra.settings import Settings
from tests.browser.test_pages_http import BAD, GOOD, sheet_with

runner = CliRunner()


def test_import_registry_reports_bad_cells_and_registers_each_row_once(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QIANSHOU_DATABASE_URL", database_url)
    monkeypatch.setenv("QIANSHOU_SECRET_KEY", "cli-test-secret-" + "x" * 32)
    file = tmp_path / "台帐.xlsx"
    file.write_bytes(sheet_with([GOOD, BAD]))
    first = runner.invoke(app, ["import", "registry", str(file)])
    assert first.exit_code == 1, first.output  # one row was not registered
    assert "row 3 O3 监护人电话" in first.output and "registered=1" in first.output
    again = runner.invoke(app, ["import", "registry", str(file)])
    assert "registered=0" in again.output and "skipped=1" in again.output
    unreadable = tmp_path / "notes.xlsx"
    unreadable.write_text("not a spreadsheet")
    assert runner.invoke(app, ["import", "registry", str(unreadable)]).exit_code == 2
    services = build_services(Settings())
    try:
        services.runner.catch_up()
        with services.db.reading() as cur:
            rows = services.registry.page(cur, {}, None, 0, 100)
        assert [r["name"] for r in rows] == ["王小芳"]
    finally:
        services.close()


def test_import_registry_as_a_user_records_them_and_applies_their_reach(
        database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--as names who registered the rows: the events carry that user, and a user whose
    jurisdiction does not reach the row's village has the row refused."""
    from domain.actor import SYSTEM
    from services import commands as c

    monkeypatch.setenv("QIANSHOU_DATABASE_URL", database_url)
    monkeypatch.setenv("QIANSHOU_SECRET_KEY", "cli-test-secret-" + "x" * 32)
    services = build_services(Settings())
    try:
        for name, village in (("wang_director", GOOD[8]), ("far_director", "远方村")):
            services.handlers.create_user(c.CreateUser(
                username=name, password="import-pass-1", agency="community",
                role="child_director", township=GOOD[7], village=village), SYSTEM, None)
    finally:
        services.close()
    file = tmp_path / "台帐.xlsx"
    file.write_bytes(sheet_with([GOOD]))
    unknown = runner.invoke(app, ["import", "registry", str(file), "--as", "nobody"])
    assert unknown.exit_code == 2 and "nobody" in unknown.output
    far = runner.invoke(app, ["import", "registry", str(file), "--as", "far_director"])
    assert far.exit_code == 1 and "registered=0" in far.output, far.output
    near = runner.invoke(app, ["import", "registry", str(file), "--as", "wang_director"])
    assert near.exit_code == 0 and "registered=1" in near.output, near.output
    services = build_services(Settings())
    try:
        services.runner.catch_up()
        with services.db.reading() as cur:
            row = services.registry.page(cur, {}, None, 0, 10)[0]
        first = list(services.app.events.get(UUID(row["child_id"]), lte=1))
        assert [(e.actor_id, e.agency) for e in first] == [("wang_director", "community")]
    finally:
        services.close()
