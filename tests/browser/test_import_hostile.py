"""Issue 19 finding 7, on both stores: a hostile or broken workbook is refused whole, before
it is parsed, with a short Chinese reason: 422 on /ui/import, exit status 2 and no traceback
from `qianshou import registry`, nobody registered, and the server's memory does not grow by
what the file would unpack to. The server answers /healthz while an import reads its file."""

import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from infra import spreadsheet
from infra.cli import app
from infra.settings import Settings
from infra.web.limits import body_limit
from infra.xlsx_guard import MAX_FILE_BYTES
from tests.browser import hostile_xlsx as hostile
from tests.browser.test_pages_http import GOOD, sheet_with, sign_in, upload
from tests.conftest import ADMIN_PASSWORD, Api

# Each hostile file, and the words its refusal must carry.
CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "shared_strings_bomb": (hostile.shared_strings_bomb, "解压后超过"),
    "understated_bomb": (hostile.understated_bomb, "文件已损坏"),
    "billion_laughs": (hostile.billion_laughs, "文档类型声明"),
    "disguised_laughs": (hostile.disguised_laughs, "文档类型声明"),
    "not_a_zip": (hostile.not_a_zip, "不是有效的 .xlsx 文件"),
    "corrupt_zip": (hostile.corrupt_zip, "文件已损坏"),
    "zip_of_text": (hostile.zip_of_text, "没有 Excel 工作簿"),
    "no_sheets": (hostile.no_sheets, "没有工作表"),
    "too_many_rows": (hostile.too_many_rows, "最多导入 5000 行"),
    "far_last_row": (hostile.far_last_row, "最多导入 5000 行"),
    "long_shared_cell": (hostile.long_shared_cell, "超过 4000 字"),
    "long_inline_cell": (hostile.long_inline_cell, "超过 4000 字"),
    "dense_member": (hostile.dense_member, "压缩比异常"),
    "many_members": (hostile.many_members, "文件过多"),
    "many_strings": (hostile.many_strings, "文字单元格超过 200000 个"),
    "too_big_file": (hostile.too_big_file, "文件太大"),
}
# A reason is a sentence, with at most a 20-character excerpt of a cell.
MAX_REASON = 80
MB = 2**20
# Parsing the bomb holds its 150 MB string (and more); refusing it holds the 150 KB file.
MAX_GROWTH = 50 * MB
# Long enough for any machine to answer /healthz; the failing case waits it out.
WAIT = 30.0

runner = CliRunner()


def alert(html: str) -> str:
    found = re.search(r'<div class="errors" role="alert">([^<]*)</div>', html)
    assert found, html[-2000:]
    return found.group(1)


def memory(field: str) -> int:
    """VmRSS or VmHWM (the peak) of this process, the server's too: TestClient runs in it."""
    found = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.M)
    assert found, field
    return int(found.group(1)) * 1024


def reset_peak() -> bool:
    """Start VmHWM afresh (Linux: 5 > clear_refs); False where that is not allowed."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return memory("VmHWM") <= memory("VmRSS") + MB


@pytest.mark.parametrize("case", list(CASES))
def test_a_hostile_workbook_is_refused_whole_on_the_page_and_in_the_cli(
        client: TestClient, api: Api, settings: Settings, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    build, words = CASES[case]
    data = build()
    recorded = client.app.state.services.app.max_position  # type: ignore[attr-defined]
    position = recorded()
    if len(data) <= body_limit("/ui/import", settings.max_body_bytes):
        refused_on_the_page(client, data, words)
    else:  # only the CLI reads a file this big: the door refuses the upload unread
        csrf = sign_in(client, "admin", ADMIN_PASSWORD)
        assert upload(client, csrf, data).status_code == 413
    refused_by_the_cli(settings, tmp_path, monkeypatch, data, words)
    assert recorded() == position  # not one event, from the page or the CLI
    assert api.get("/children", min_position=position).json()["items"] == []


def refused_on_the_page(client: TestClient, data: bytes, words: str) -> None:
    csrf = sign_in(client, "admin", ADMIN_PASSWORD)
    form = client.get("/ui/import")
    measured = reset_peak()
    before = memory("VmRSS")
    refused = upload(client, csrf, data)
    grew = memory("VmHWM") - before
    assert refused.status_code == 422, refused.text[-2000:]
    reason = alert(refused.text)
    assert words in reason and len(reason) <= MAX_REASON, reason
    assert len(refused.content) < len(form.content) + 2 * MAX_REASON * 3  # UTF-8: 3 a char
    if measured:  # else the refusal's reason (a size, before openpyxl) must stand for it
        assert grew < MAX_GROWTH, f"the server grew {grew / MB:.0f} MB"


def refused_by_the_cli(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       data: bytes, words: str) -> None:
    monkeypatch.setenv("QIANSHOU_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("QIANSHOU_SECRET_KEY", "cli-test-secret-" + "x" * 32)
    file = tmp_path / "台帐.xlsx"
    file.write_bytes(data)
    result = runner.invoke(app, ["import", "registry", str(file)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit), result.output
    assert "Traceback" not in result.output and words in result.output
    assert len(result.output) < 2 * MAX_REASON * 3, result.output


def test_the_server_answers_while_an_import_reads_its_file(
        client: TestClient, api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """Reading is held until /healthz has answered: were it on the event loop, /healthz
    could not answer until it let go, and the read would note that it waited in vain."""
    reading, answered = threading.Event(), threading.Event()
    waited_in_vain: list[bool] = []
    read_rows = spreadsheet.read_rows

    def held(data: bytes) -> list[spreadsheet.Row]:
        reading.set()
        waited_in_vain.append(not answered.wait(WAIT))
        return read_rows(data)

    monkeypatch.setattr(spreadsheet, "read_rows", held)
    csrf = sign_in(client, "admin", ADMIN_PASSWORD)
    with ThreadPoolExecutor(1) as pool:
        imported = pool.submit(upload, client, csrf, hostile.good())
        assert reading.wait(WAIT)
        assert client.get("/healthz").status_code == 200
        answered.set()
        assert imported.result(WAIT).status_code == 200
    assert waited_in_vain == [False]
    assert [c["name"] for c in api.get("/children").json()["items"]] == ["王小芳"]


def test_the_report_shows_only_the_start_of_an_over_long_name(client: TestClient,
                                                               api: Api) -> None:
    """A name cell of 4,000 characters fits a cell but not a name: its row is refused, and
    the report shows the first 50 characters (a name's most), not the cell."""
    csrf = sign_in(client, "admin", ADMIN_PASSWORD)
    report = upload(client, csrf, sheet_with([["名" * 4000, *GOOD[1:]]]))
    assert report.status_code == 200 and "有误，未登记 1" in report.text
    row = report.text.split('data-row="2"', 1)[1].split("</tr>", 1)[0]
    assert "名" * 50 + "…" in row and "名" * 51 not in row and "A2" in row
    assert len(report.content) < len(client.get("/ui/import").content) + 2000


def test_an_upload_passes_the_door_up_to_the_guards_size_and_beyond_is_a_chinese_page(
        client: TestClient, settings: Settings) -> None:
    """A styled workbook is larger than the JSON bodies' limit: up to the file size that
    infra/xlsx_guard admits it reaches the guard; beyond, a page in Chinese says why."""
    csrf = sign_in(client, "admin", ADMIN_PASSWORD)
    past_the_door = upload(client, csrf, b"x" * (settings.max_body_bytes + 1))
    assert past_the_door.status_code == 422, past_the_door.text[-500:]  # the guard's answer
    too_big = b"x" * (MAX_FILE_BYTES + 128 * 1024)
    refused = upload(client, csrf, too_big)
    chunked = client.post("/ui/import", content=iter([too_big[i:i + 2**20]
                                                      for i in range(0, len(too_big), 2**20)]),
                          headers={"Content-Type": "multipart/form-data; boundary=x"})
    for answer in (refused, chunked):
        assert answer.status_code == 413
        assert answer.headers["content-type"].startswith("text/html")
        assert "文件太大" in answer.text and "10 MB" in answer.text
    api_body = client.post("/children", content=b"x" * (settings.max_body_bytes + 1),
                           headers={"Content-Type": "application/json"})
    assert api_body.status_code == 413 and api_body.json()["detail"].startswith("body larger")
