"""Configuration: QIANSHOU_* environment variables, read once."""

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything the service reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="QIANSHOU_", extra="ignore")

    database_url: str = "sqlite:///data/qianshou.db"
    secret_key: str = ""  # empty: a key is made once and kept beside the data
    token_ttl_minutes: int = Field(default=480, ge=1)
    projections: str = "inline"  # "inline": run in the API process; "off": a worker runs them
    log_json: bool = False
    log_level: str = "INFO"
    pg_pool_size: int = Field(default=8, ge=1)
    wait_timeout_seconds: float = 5.0
    max_body_bytes: int = 256 * 1024
    # Requests handled at once; beyond this the service answers 503 + Retry-After at once
    # instead of queueing until clients time out (infra/web/limits.py).
    max_in_flight: int = Field(default=64, ge=1)
    # How long a request waits for a PostgreSQL connection (whole seconds) before it is
    # answered 503: this bounds every request while the database is away.
    pg_connect_timeout_seconds: int = Field(default=5, ge=1)
    # Any one SQL statement on PostgreSQL is cancelled after this (0: never), so a slow view
    # query answers 503 instead of holding a connection of the pool.
    pg_statement_timeout_seconds: int = Field(default=30, ge=0)

    @property
    def is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))

    def persistence_env(self) -> dict[str, str]:
        """The eventsourcing environment for the chosen store."""
        if self.is_postgres:
            return postgres_env(self.database_url, self.pg_pool_size,
                                self.pg_connect_timeout_seconds,
                                self.pg_statement_timeout_seconds)
        return sqlite_env(self.database_url)

    def resolved_secret(self) -> str:
        if self.secret_key:
            return self.secret_key
        return _secret_beside_data(self)


def sqlite_path(url: str) -> str:
    if not url.startswith("sqlite:///"):
        raise ValueError("QIANSHOU_DATABASE_URL must be sqlite:///path.db or postgresql://...")
    return url[len("sqlite:///"):]


def sqlite_env(url: str) -> dict[str, str]:
    path = sqlite_path(url)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": path,
        "SQLITE_LOCK_TIMEOUT": "10",
        "APPLICATION_RECORDER_TOPIC": "infra.idempotent_recorders:IdempotentSQLiteRecorder",
    }


def postgres_env(url: str, pool_size: int, connect_timeout: int = 5,
                 statement_timeout: int = 30) -> dict[str, str]:
    parts = urlparse(url)
    query = parse_qs(parts.query)
    return {
        # The library's PostgreSQL persistence, bounded for a lost database (its module says).
        "PERSISTENCE_MODULE": "infra.pg_persistence:Factory",
        "POSTGRES_DBNAME": (parts.path or "/postgres").lstrip("/") or "postgres",
        "POSTGRES_HOST": parts.hostname or "127.0.0.1",
        "POSTGRES_PORT": str(parts.port or 5432),
        "POSTGRES_USER": unquote(parts.username or "postgres"),
        "POSTGRES_PASSWORD": unquote(parts.password or ""),
        "POSTGRES_SCHEMA": query.get("schema", ["public"])[0],
        "POSTGRES_POOL_SIZE": str(pool_size),
        "POSTGRES_MAX_OVERFLOW": str(pool_size),
        # Never POSTGRES_ENABLE_DB_FUNCTIONS: it let readers skip events here.
        "POSTGRES_LOCK_TIMEOUT": "5",
        # Also the pool's wait for a free connection (eventsourcing passes it as the
        # psycopg_pool timeout): a request never waits longer for a lost database.
        "POSTGRES_CONNECT_TIMEOUT": str(connect_timeout),
        "POSTGRES_STATEMENT_TIMEOUT": str(statement_timeout),  # infra/pg_persistence.py
        "POSTGRES_PRE_PING": "y",
        "APPLICATION_RECORDER_TOPIC": "infra.pg_persistence:BoundedApplicationRecorder",
    }


def _secret_beside_data(settings: Settings) -> str:
    """A signing key made once per installation, so restarts keep tokens valid."""
    import secrets

    base = Path(sqlite_path(settings.database_url)).parent if not settings.is_postgres else Path(
        "data")
    base.mkdir(parents=True, exist_ok=True)
    key_file = base / ".secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(48))
        key_file.chmod(0o600)
    return key_file.read_text().strip()
