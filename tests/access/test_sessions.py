"""Sessions (issue 19, findings 8 and 9), on SQLite and PostgreSQL: a signed-out or disabled
user's token stops at once on the API and the pages, also when the sign-out happened in
another process; a token whose claims are missing or mistyped is a 401, never a 500; the
sign-in form refuses a post without its CSRF token and opens no session for it."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from fastapi.testclient import TestClient

from infra.web.app import create_app
from tests.browser.test_pages_http import login_form_token
from tests.conftest import ADMIN_PASSWORD, Api
from tests.faults.harness import Server, make_admin, settings_for

COOKIE = "qianshou_session"
NURSE, NURSE_PASSWORD = "nurse.li", "nurse-password-1"


def _page_status(client: Any, token: str) -> tuple[int, str]:
    """GET a page with the token as its sign-in cookie: the status and where it sends."""
    client.cookies.clear()
    client.cookies.set(COOKIE, token)
    response = client.get("/ui/children", follow_redirects=False)
    client.cookies.clear()
    return response.status_code, response.headers.get("location", "")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_api_logout_ends_the_token_on_the_api_and_the_pages(client: TestClient,
                                                               api: Api) -> None:
    token = api.headers["Authorization"].removeprefix("Bearer ")
    assert client.get("/children", headers=_bearer(token)).status_code == 200
    assert _page_status(client, token)[0] == 200
    assert client.post("/auth/logout", headers=_bearer(token)).status_code == 204
    refused = client.get("/children", headers=_bearer(token))
    assert refused.status_code == 401 and refused.headers["www-authenticate"] == "Bearer"
    assert _page_status(client, token) == (303, "/ui/login?next=/ui/children")
    assert client.post("/auth/logout", headers=_bearer(token)).status_code == 401
    assert client.post("/auth/logout").status_code == 401


def test_a_page_logout_ends_the_token_for_the_api_too(client: TestClient) -> None:
    client.post("/ui/login", data={"username": "admin", "password": ADMIN_PASSWORD,
                                   "csrf": login_form_token(client)}, follow_redirects=False)
    token = client.cookies[COOKIE]
    page = client.get("/ui/children").text
    csrf = page.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    assert client.post("/ui/logout", data={"csrf": csrf},
                       follow_redirects=False).headers["location"] == "/ui/login"
    assert client.get("/children", headers=_bearer(token)).status_code == 401
    assert _page_status(client, token)[0] == 303


def test_other_sessions_of_the_user_live_on_after_one_logout(client: TestClient) -> None:
    """A logout ends that token only: the same user on another phone stays signed in."""
    phone = client.post("/auth/token", data={"username": "admin",
                                             "password": ADMIN_PASSWORD}).json()["access_token"]
    desk = client.post("/auth/token", data={"username": "admin",
                                            "password": ADMIN_PASSWORD}).json()["access_token"]
    assert client.post("/auth/logout", headers=_bearer(phone)).status_code == 204
    assert client.get("/children", headers=_bearer(phone)).status_code == 401
    assert client.get("/children", headers=_bearer(desk)).status_code == 200


@pytest.fixture
def two_apps(settings: Any, client: TestClient) -> Iterator[tuple[TestClient, TestClient]]:
    """A second app on the same store: nothing in memory shared with the first."""
    with TestClient(create_app(settings)) as other:
        yield client, other


def _add_nurse(api: Api) -> None:
    response = api.post("/users", {"username": NURSE, "password": NURSE_PASSWORD,
                                   "agency": "township", "role": "township_supervisor",
                                   "township": "白沙关镇"})
    assert response.status_code == 201, response.text


def test_a_logout_on_one_app_ends_the_token_on_another_at_once(
        two_apps: tuple[TestClient, TestClient]) -> None:
    first, second = two_apps
    token = first.post("/auth/token", data={"username": "admin",
                                            "password": ADMIN_PASSWORD}).json()["access_token"]
    assert second.get("/children", headers=_bearer(token)).status_code == 200  # now cached
    assert first.post("/auth/logout", headers=_bearer(token)).status_code == 204
    assert second.get("/children", headers=_bearer(token)).status_code == 401
    assert _page_status(second, token)[0] == 303


def test_a_disable_on_one_app_ends_the_users_tokens_on_another_at_once(
        two_apps: tuple[TestClient, TestClient], api: Api) -> None:
    first, second = two_apps
    _add_nurse(api)
    token = first.post("/auth/token", data={"username": NURSE,
                                            "password": NURSE_PASSWORD}).json()["access_token"]
    # Read just now on the second app: its one-second account cache says "enabled".
    assert second.get("/children", headers=_bearer(token)).status_code == 200
    assert api.post(f"/users/{NURSE}/disable", {"reason": "离职"}).status_code == 200
    assert second.get("/children", headers=_bearer(token)).status_code == 401
    assert _page_status(second, token)[0] == 303


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    """`qianshou serve` as a real process on the test's store."""
    make_admin(settings_for(database_url))
    served = Server(database_url, tmp_path / "serve.log").start()
    try:
        yield served
    finally:
        served.stop()


def test_a_logout_in_another_process_ends_the_token_at_once(server: Server,
                                                            database_url: str) -> None:
    """Both ways: signed out here, refused by the server process; signed out there, refused
    here. No wait between the logout and the next request."""
    with TestClient(create_app(settings_for(database_url))) as here, \
            httpx.Client(base_url=server.url, timeout=30) as there:
        for signs_out, uses in ((here, there), (there, here)):
            token = server.token()
            assert uses.get("/children", headers=_bearer(token)).status_code == 200
            assert signs_out.post("/auth/logout", headers=_bearer(token)).status_code == 204
            assert uses.get("/children", headers=_bearer(token)).status_code == 401
            assert _page_status(uses, token) == (303, "/ui/login?next=/ui/children")


# --- tokens signed with the server's key but not made by sign-in ---------------------------


def _forged(claims: dict[str, Any], secret: str, changes: dict[str, Any]) -> str:
    """A real session's claims, changed, signed with the server's own key."""
    claims = dict(claims)
    for name, value in changes.items():
        if value is DROP:
            claims.pop(name)
        else:
            claims[name] = value
    return jwt.encode(claims, secret, algorithm="HS256")


DROP = object()
BAD_CLAIMS = [{"sub": DROP}, {"exp": DROP}, {"iat": DROP}, {"jti": DROP},
              {"sub": 7}, {"sub": ""}, {"sub": None}, {"sub": ["admin"]},
              {"exp": "tomorrow"}, {"exp": None}, {"exp": 4e9}, {"exp": True}, {"iat": "now"},
              {"jti": 12}, {"jti": ""}, {"jti": "not-a-session"}, {"sub": "nobody"}]


def test_a_token_with_a_claim_missing_or_mistyped_is_401(client: TestClient, settings: Any,
                                                         api: Api) -> None:
    """Every required claim (sub, exp, iat, jti) missing, or of another type, or naming no
    open session: 401 on the API and a sign-in on the pages, never a 500."""
    real = api.headers["Authorization"].removeprefix("Bearer ")
    claims = jwt.decode(real, options={"verify_signature": False})
    for changes in BAD_CLAIMS:
        token = _forged(claims, settings.resolved_secret(), changes)
        for path in ("/children", "/users", "/audit/ledger"):
            answer = client.get(path, headers=_bearer(token))
            assert answer.status_code == 401, (changes, path, answer.status_code, answer.text)
        assert client.post("/auth/logout", headers=_bearer(token)).status_code == 401, changes
        assert _page_status(client, token)[0] == 303, changes
    assert client.get("/children", headers=_bearer(real)).status_code == 200  # still open


# --- the sign-in form's CSRF check -------------------------------------------------------


def _sessions(client: TestClient) -> int:
    return int(client.app.state.services.tokens.sessions.count())  # type: ignore[attr-defined]


def test_a_sign_in_without_the_forms_csrf_token_opens_no_session(client: TestClient) -> None:
    form = {"username": "admin", "password": ADMIN_PASSWORD, "next": "/ui/children"}
    before = _sessions(client)
    client.cookies.clear()
    token = login_form_token(client)  # this browser's cookie and token
    attempts = {
        "no token": {**form},
        "a wrong token": {**form, "csrf": "0" * 32},
        "a non-ASCII token": {**form, "csrf": "登录"},
    }
    for what, data in attempts.items():
        refused = client.post("/ui/login", data=data, follow_redirects=False)
        assert refused.status_code == 403, what
        assert "登录页已过期或不是从本站打开的" in refused.text, what
        assert COOKIE not in refused.headers.get("set-cookie", ""), what
    # Another site's post carries the victim's cookie (or none) and the attacker's token.
    client.cookies.clear()
    foreign = client.post("/ui/login", data={**form, "csrf": token}, follow_redirects=False)
    assert foreign.status_code == 403 and COOKIE not in foreign.headers.get("set-cookie", "")
    assert _sessions(client) == before
    # The form as opened in this browser signs in.
    ok = client.post("/ui/login", data={**form, "csrf": login_form_token(client)},
                     follow_redirects=False)
    assert ok.status_code == 303 and COOKIE in ok.headers["set-cookie"]
    assert _sessions(client) == before + 1


def test_the_sign_in_form_sets_a_strict_pre_session_cookie(client: TestClient) -> None:
    client.cookies.clear()
    cookie = client.get("/ui/login").headers["set-cookie"].lower()
    assert cookie.startswith("qianshou_login=")
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/ui/login" in cookie


def test_sessions_expire_with_their_token(client: TestClient, settings: Any) -> None:
    """A session past its token's expiry is gone at the next sign-in: the table stays small."""
    services = client.app.state.services  # type: ignore[attr-defined]
    services.tokens.sessions.open("old-session", "admin", int(time.time()) - 60)
    count = _sessions(client)
    client.post("/auth/token", data={"username": "admin", "password": ADMIN_PASSWORD})
    assert _sessions(client) == count  # one added, the expired one gone
    assert services.tokens.sessions.holder("old-session") is None

