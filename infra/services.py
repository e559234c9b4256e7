"""Builds the running parts from settings: the application, its views and their runner."""

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg

from infra.access_log import AccessLog
from infra.sessions import SessionTable
from infra.settings import Settings
from infra.viewdb import ViewDB
from projections.actions import ActionsView
from projections.archive import ArchiveView
from projections.assessment import AssessmentView
from projections.contact_chain import ContactChainView
from projections.compliance import ComplianceView
from projections.directory import DirectoryView
from projections.duplicates import DuplicatesView
from projections.erasure import ErasureView
from projections.followups import FollowUpsView
from projections.grants_audit import GrantsAuditView
from projections.ledger import LedgerView
from projections.registry import RegistryView
from projections.runner import ProjectionRunner
from projections.users import UsersView
from services.application import Qianshou
from services.auth import TokenService
from services.handlers import Handlers

# Every view the runner keeps up to date; a new read model adds its class here.
VIEW_CLASSES: list[Any] = [ArchiveView, RegistryView, DirectoryView, UsersView, ContactChainView,
                           GrantsAuditView, LedgerView, AssessmentView]
VIEW_CLASSES += [ActionsView, FollowUpsView]  # case review (issue 7)
VIEW_CLASSES += [DuplicatesView, ComplianceView]  # duplicates and compliance (issue 7)


@dataclass
class Services:
    """Everything a request or a CLI command needs, built once per process."""

    settings: Settings
    app: Qianshou
    db: ViewDB
    views: dict[str, Any]
    runner: ProjectionRunner
    handlers: Handlers
    tokens: TokenService
    access: AccessLog

    @property
    def archive(self) -> ArchiveView:
        return self.views["archive"]  # type: ignore[no-any-return]

    @property
    def registry(self) -> RegistryView:
        return self.views["registry"]  # type: ignore[no-any-return]

    @property
    def directory(self) -> DirectoryView:
        return self.views["directory"]  # type: ignore[no-any-return]

    def close(self) -> None:
        self.runner.stop()
        self.access.stop()
        self.app.close()


def ensure_schema(settings: Settings, env: dict[str, str]) -> None:
    """A PostgreSQL schema named in the URL (?schema=) is created if missing."""
    if not settings.is_postgres or env["POSTGRES_SCHEMA"] == "public":
        return
    with psycopg.connect(dbname=env["POSTGRES_DBNAME"], host=env["POSTGRES_HOST"],
                         port=env["POSTGRES_PORT"], user=env["POSTGRES_USER"],
                         password=env["POSTGRES_PASSWORD"] or None, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{env["POSTGRES_SCHEMA"]}"')


def build_services(settings: Settings) -> Services:
    env = settings.persistence_env()
    ensure_schema(settings, env)
    app = Qianshou(env=env)
    app.keys.create_table()
    db = ViewDB(app)
    views = {cls.name: cls(db.table) for cls in VIEW_CLASSES}
    views[ErasureView.name] = ErasureView(app.keys)  # holds the key store, not a table
    runner = ProjectionRunner(app, db, list(views.values()))
    runner.create_tables()
    runner.load_positions()
    app.on_saved.append(runner.wake)
    sessions = SessionTable(db)
    sessions.create_table()
    tokens = TokenService(app, settings.resolved_secret(),
                          timedelta(minutes=settings.token_ttl_minutes), sessions)
    access = AccessLog(db)
    access.create_table()
    access.start()
    return Services(settings, app, db, views, runner, Handlers(app), tokens, access)
