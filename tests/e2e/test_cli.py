"""The qianshou command line on both stores: users add, demo, projections rebuild."""

import pytest
from typer.testing import CliRunner

from infra.cli import app
from infra.services import build_services
from infra.settings import Settings

runner = CliRunner()


def test_users_add_demo_and_rebuild(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QIANSHOU_DATABASE_URL", database_url)
    monkeypatch.setenv("QIANSHOU_SECRET_KEY", "cli-test-secret-" + "x" * 32)
    bad = runner.invoke(app, ["users", "add", "--username", "li.teacher", "--password", "short",
                              "--agency", "school", "--role", "class_teacher"])
    assert bad.exit_code == 2 and "password" in bad.output
    assert "'short'" not in bad.output  # the refused password is never echoed
    good = runner.invoke(app, ["users", "add", "--username", "li.teacher", "--password",
                               "long-enough-pw", "--agency", "school", "--role", "class_teacher",
                               "--school", "白沙关小学", "--class-name", "六(2)班"])
    assert good.exit_code == 0, good.output
    demo = runner.invoke(app, ["demo", "--children", "5"])
    assert demo.exit_code == 0 and "5 children" in demo.output
    again = runner.invoke(app, ["demo", "--children", "5"])
    assert "0 children" in again.output  # loading twice registers nobody twice
    rebuilt = runner.invoke(app, ["projections", "rebuild"])
    assert rebuilt.exit_code == 0, rebuilt.output
    services = build_services(Settings())
    try:
        with services.db.reading() as cur:
            rows = services.registry.page(cur, {}, None, 0, 100)
        assert len(rows) == 5 and all(r["township"] == "白沙关镇" for r in rows)
        assert services.runner.position == services.app.max_position()
    finally:
        services.close()
