"""Search wildcards (issue 19, finding 11), on SQLite and PostgreSQL: `%`, `_` and the escape
character itself typed into a search match only themselves, in every parameter that searches
with LIKE: the registry's `q` on the API, on its page and in its spreadsheet export
(`q=%` used to list every child in reach)."""

import io
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from tests.browser.test_pages_http import sign_in
from tests.conftest import ADMIN_PASSWORD, Api, register

NAMES = ["张小明", "李%华", "王_丽", "赵\\强", "钱小_"]
# query -> the names it must find, and only those
EXPECTED = {
    "%": {"李%华"},
    "_": {"王_丽", "钱小_"},
    "\\": {"赵\\强"},
    "%%": set(),
    "李_华": set(),  # `_` is not "any one character"
    "\\%": set(),  # nor does a typed backslash escape anything
    "%华": {"李%华"},
    "小": {"张小明", "钱小_"},  # plain searches still work
    "zxm": {"张小明"},  # by pinyin initials
}


def _api(client: TestClient, api: Api, q: str) -> set[str]:
    answer = api.get("/children", q=q, limit=500)
    assert answer.status_code == 200, answer.text
    return {row["name"] for row in answer.json()["items"]}


def _page(client: TestClient, api: Api, q: str) -> set[str]:
    html = client.get("/ui/children", params={"q": q}).text
    assert "留守儿童台帐" in html
    escaped = {name: name.replace("&", "&amp;") for name in NAMES}
    return {name for name, shown in escaped.items() if f">{shown}<" in html}


def _export(client: TestClient, api: Api, q: str) -> set[str]:
    answer = client.get("/ui/children/export.xlsx", params={"q": q})
    assert answer.status_code == 200
    book = load_workbook(io.BytesIO(answer.content), read_only=True)
    cells = {str(cell) for sheet in book.worksheets for row in sheet.iter_rows(values_only=True)
             for cell in row if cell is not None}
    return cells & set(NAMES)


SEARCHES: dict[str, Callable[[TestClient, Api, str], set[str]]] = {
    "GET /children?q": _api, "GET /ui/children?q": _page,
    "GET /ui/children/export.xlsx?q": _export}


@pytest.mark.parametrize("search", list(SEARCHES))
def test_wildcards_in_a_search_match_only_themselves(client: TestClient, api: Api,
                                                     search: str) -> None:
    last = [register(api, name=name) for name in NAMES][-1]
    assert api.get("/children", min_position=last["position"]).status_code == 200
    sign_in(client, "admin", ADMIN_PASSWORD)
    found: dict[str, Any] = {q: SEARCHES[search](client, api, q) for q in EXPECTED}
    assert found == EXPECTED
