"""`qianshou import registry FILE.xlsx` on both stores: per-cell report, nobody twice."""

from pathlib import Path

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
