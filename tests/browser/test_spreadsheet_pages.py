"""Issue 19 findings 6 and 7 in headless Chromium: a child named like a formula downloads as
text, and a hostile workbook uploaded through the form is refused on the page, in Chinese.
(Every export and every hostile file, on both stores: tests/e2e/test_spreadsheet_safety.py
and tests/browser/test_import_hostile.py.)"""

import io
from typing import Any

import pytest
from openpyxl import load_workbook

from tests.browser import hostile_xlsx as hostile
from tests.browser.conftest import LiveServer, phone_page, sqlite_only
from tests.e2e.test_spreadsheet_safety import LINK, sheet_xml_formulas

pytestmark = pytest.mark.xdist_group("browser")


@pytest.fixture
def page(browser: Any, live: LiveServer, admin_state: Any) -> Any:
    opened = phone_page(browser, admin_state)
    yield opened
    opened.context.close()


@sqlite_only
def test_a_child_named_like_a_formula_downloads_as_text(page: Any, live: LiveServer) -> None:
    live.register(name=LINK, id_number=None, village="公式村")
    page.goto(f"{live.url}/ui/children?village=公式村")
    with page.expect_download() as download:
        page.get_by_role("link", name="导出 Excel").click()
    data = download.value.path().read_bytes()
    assert sheet_xml_formulas(data) == []
    cell = load_workbook(io.BytesIO(data)).active["A2"]
    assert (cell.value, cell.data_type, cell.quotePrefix) == (LINK, "s", True)


@sqlite_only
@pytest.mark.parametrize(("build", "words"), [
    (hostile.shared_strings_bomb, "文件解压后超过 16 MB"),
    (hostile.billion_laughs, "文档类型声明"),
    (hostile.no_sheets, "工作簿里没有工作表"),
], ids=["bomb", "dtd", "no_sheets"])
def test_a_hostile_workbook_is_refused_on_the_page(page: Any, live: LiveServer, build: Any,
                                                   words: str) -> None:
    before = live.services.app.max_position()
    page.goto(f"{live.url}/ui/import")
    page.get_by_label("Excel 文件").set_input_files(files=[{
        "name": "台帐.xlsx", "buffer": build(),
        "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}])
    page.get_by_role("button", name="上传并导入").click()
    reason = page.get_by_role("alert").inner_text()
    assert words in reason and len(reason) < 80, reason
    assert page.get_by_role("button", name="上传并导入").is_visible()  # try again, same page
    assert live.services.app.max_position() == before
