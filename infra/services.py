"""Builds the running parts from settings: the application, its views and their runner."""

from dataclasses import dataclass
from datetime import timedelta

import psycopg

from infra.settings import Settings
from infra.viewdb import ViewDB
from projections.archive import ArchiveView
from projections.directory import DirectoryView
from projections.registry import RegistryView
from projections.runner import ProjectionRunner
from services.application import Qianshou
from services.auth import TokenService
from services.handlers import Handlers


@dataclass
class Services:
    """Everything a request or a CLI command needs, built once per process."""

    settings: Settings
    app: Qianshou
    db: ViewDB
    archive: ArchiveView
    registry: RegistryView
    directory: DirectoryView
    runner: ProjectionRunner
    handlers: Handlers
    tokens: TokenService

    def close(self) -> None:
        self.runner.stop()
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
    db = ViewDB(app)
    archive, registry, directory = (ArchiveView(db.table), RegistryView(db.table),
                                    DirectoryView(db.table))
    runner = ProjectionRunner(app, db, [archive, registry, directory])
    runner.create_tables()
    runner.load_positions()
    app.on_saved.append(runner.wake)
    tokens = TokenService(app, settings.resolved_secret(),
                          timedelta(minutes=settings.token_ttl_minutes))
    return Services(settings, app, db, archive, registry, directory, runner, Handlers(app),
                    tokens)
