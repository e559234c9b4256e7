"""Throw-away stores, one per benchmark phase: a SQLite file or a PostgreSQL schema."""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from uuid import uuid4

import psycopg

from infra.services import ensure_schema
from infra.settings import Settings

PG_URL = os.environ.get("QIANSHOU_BENCH_PG_URL",
                        os.environ.get("QIANSHOU_TEST_PG_URL",
                                       "postgresql://postgres@127.0.0.1:5432/test"))
# A fixed key, so build_services never writes a .secret_key file outside the temp store.
SECRET = "bench-secret-" + "x" * 32
STORES = ("sqlite", "postgres")


@contextmanager
def fresh_url(store: str) -> Iterator[str]:
    """A database URL nobody else uses; the file or schema is removed afterwards."""
    if store == "sqlite":
        with tempfile.TemporaryDirectory(prefix="qianshou-bench-") as tmp:
            yield f"sqlite:///{tmp}/bench.db"
        return
    if store != "postgres":
        raise ValueError(f"unknown store {store!r}")
    schema = f"bench_{uuid4().hex[:12]}"
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def settings_for(url: str) -> Settings:
    """The project's settings for a bench store (pool sized for 16 writer threads)."""
    return Settings(database_url=url, secret_key=SECRET, pg_pool_size=8, log_json=True)


def bare_env(url: str) -> dict[str, str]:
    """The same persistence environment, with the library's own application recorder."""
    settings = settings_for(url)
    env = settings.persistence_env()
    env.pop("APPLICATION_RECORDER_TOPIC", None)
    ensure_schema(settings, env)
    return env
