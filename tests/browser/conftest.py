"""A real server and a real browser: uvicorn in a thread on a free port, Debian's Chromium
driven by Playwright (never `playwright install`: the browser comes from `make browser`)."""

import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from domain.actor import SYSTEM
from infra.services import Services
from infra.settings import Settings
from infra.web.app import create_app
from services import commands as c
from tests.conftest import ADMIN_PASSWORD, child_body, pg_schema_url

CHROMIUM = Path(os.environ.get("QIANSHOU_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@dataclass
class LiveServer:
    url: str
    services: Services

    def register(self, **overrides: Any) -> str:
        answer = self.services.handlers.register_child(
            c.RegisterChild.model_validate(child_body(**overrides)), SYSTEM, None)
        self.services.runner.wait_for(answer.position, 5)
        return str(answer.body["id"])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(settings: Settings) -> Iterator[LiveServer]:
    """The app as `qianshou serve` runs it, with an admin; stopped at the end."""
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    services: Services = app.state.services
    services.handlers.create_user(c.CreateUser(
        username="admin", password=ADMIN_PASSWORD, agency="township", role="admin"), SYSTEM, None)
    yield LiveServer(f"http://127.0.0.1:{port}", services)
    server.should_exit = True
    thread.join(timeout=10)


# A browser test runs on both stores unless marked `sqlite_only`: PostgreSQL keeps the
# caseworker's main path (sign-in, lookup, incident, visit, break-glass) and the rest,
# which only exercise the pages, stay on SQLite to keep the browser run short.
sqlite_only = pytest.mark.parametrize("live", ["sqlite"], indirect=True)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def live(request: pytest.FixtureRequest,
         tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server per module and store: a fresh SQLite file or PostgreSQL schema."""
    secret = "browser-test-" + "x" * 32
    if request.param == "sqlite":
        folder = tmp_path_factory.mktemp("live")
        yield from serve(Settings(database_url=f"sqlite:///{folder}/qianshou.db",
                                  secret_key=secret, log_json=True))
        return
    with pg_schema_url("b") as url:
        yield from serve(Settings(database_url=url, secret_key=secret, log_json=True))


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} missing (CI=true: never skip); run `make browser`")
        pytest.skip(f"{CHROMIUM} missing; `make browser` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def admin_state(browser: Any, live: LiveServer) -> Any:
    """The admin's signed-in cookies, signed in once through the form per module."""
    page = signed_in_page(browser, live)
    state = page.context.storage_state()
    page.context.close()
    return state


def phone_page(browser: Any, state: Any) -> Any:
    """A fresh phone-sized context (360 px) with a saved sign-in."""
    page = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN",
                               accept_downloads=True, storage_state=state).new_page()
    page.set_default_timeout(10_000)
    return page


def signed_in_page(browser: Any, live: LiveServer, username: str = "admin",
                   password: str = ADMIN_PASSWORD, **context: Any) -> Any:
    """A fresh phone-sized context (360 px), signed in through the form."""
    page = browser.new_context(viewport={"width": 360, "height": 740}, locale="zh-CN",
                               accept_downloads=True, **context).new_page()
    page.set_default_timeout(10_000)
    page.goto(f"{live.url}/ui/emergency")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/ui/emergency")
    return page
