"""One fixture parametrizes the store: each test gets a fresh SQLite file or PostgreSQL schema."""

import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from domain.actor import SYSTEM
from infra.services import Services, build_services
from infra.settings import Settings
from infra.web.app import create_app
from services import commands as c

PG_URL = os.environ.get("QIANSHOU_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
ADMIN_PASSWORD = "qianshou-test-1"


def _pg_available() -> bool:
    try:
        psycopg.connect(PG_URL, connect_timeout=10).close()  # a busy machine is slow to connect
        return True
    except psycopg.OperationalError:
        return False


@contextmanager
def pg_schema_url(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL schema's URL, dropped afterwards; a failure under CI=true (never a
    skip) when the server cannot be reached."""
    if not _pg_available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL not reachable at {PG_URL} (CI=true: never skip)")
        pytest.skip("PostgreSQL not reachable; CI=true turns this into a failure")
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        yield f"{PG_URL}?schema={schema}"
    finally:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/qianshou.db"
        return
    with pg_schema_url("t") as url:
        yield url


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return Settings(database_url=database_url, secret_key="test-secret-" + "x" * 32,
                    log_json=True)


@pytest.fixture
def services(settings: Settings) -> Iterator[Services]:
    built = build_services(settings)
    yield built
    built.close()


class Api:
    """An HTTP client signed in as a user, with helpers for the common calls."""

    def __init__(self, client: TestClient, token: str,
                 registered: list[str] | None = None) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"}
        # Names registered through register(), shared by every user of one test's client.
        self.registered = registered if registered is not None else []

    def post(self, path: str, json: Any = None, **headers: str) -> Any:
        return self.client.post(path, json=json, headers={**self.headers, **headers})

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params, headers=self.headers)

    def as_user(self, username: str, password: str) -> "Api":
        return Api(self.client, token_for(self.client, username, password), self.registered)


def token_for(client: TestClient, username: str, password: str) -> str:
    response = client.post("/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]  # type: ignore[no-any-return]


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        services: Services = test_client.app.state.services  # type: ignore[attr-defined]
        services.handlers.create_user(c.CreateUser(
            username="admin", password=ADMIN_PASSWORD, agency="township", role="admin"),
            SYSTEM, None)
        yield test_client


@pytest.fixture
def api(client: TestClient) -> Api:
    return Api(client, token_for(client, "admin", ADMIN_PASSWORD))


def id_number_for(name: str, repeat: int = 0) -> str:
    """An ID number of its own for each name (and each repeat of a name), since a second
    registration of one ID number is refused as a duplicate. 张小明's first is the usual one."""
    if name == "张小明" and repeat == 0:
        return "522601201403051228"
    digits = int(hashlib.sha256(f"{name}/{repeat}".encode()).hexdigest(), 16) % 10**10
    return f"5226{digits:010d}1228"


def child_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "张小明", "sex": "male", "birth_date": "2014-03-05",
        "id_number": id_number_for(overrides.get("name", "张小明")), "school": "白沙关小学",
        "grade": "六年级",
        "class_name": "六(2)班", "township": "白沙关镇", "village": "白沙关村",
        "left_behind_type": "both_parents_away", "reason": "父母在广州务工",
        "guardian": {"name": "张奶奶", "relation": "祖母", "phone": "13800001111", "age": 67,
                     "health": "高血压", "address": "白沙关村三组"},
        "parents": [{"name": "张大山", "relation": "父亲", "phone": "13700002222",
                     "work_city": "广州"}],
    }
    body.update(overrides)
    return body


def register(api: Api, **overrides: Any) -> dict[str, Any]:
    """Register a child; without an id_number given, each call is another child."""
    body = child_body(**overrides)
    if "id_number" not in overrides:
        body["id_number"] = id_number_for(body["name"], api.registered.count(body["name"]))
        api.registered.append(body["name"])
    response = api.post("/children", body)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


def pytest_configure(config: pytest.Config) -> None:
    from tests import log_scan
    log_scan.configure(config)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests import log_scan
    log_scan.finish(session)
