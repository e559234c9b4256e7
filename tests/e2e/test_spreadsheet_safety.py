"""Issue 19 finding 6, on both stores: every .xlsx the service writes holds user text as plain
text. A child, a helper or a grant period named like a formula (= + - @), or like an error
code (#N/A), comes back from every export as a string cell with exactly that text: no <f>
element in any sheet, and the quotePrefix style on text Excel would take for a formula when
someone edits the cell."""

import re
import zipfile
from io import BytesIO
from typing import Any
from xml.etree import ElementTree

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from infra.xlsx_writer import FORMULA_STARTS
from tests.browser.test_pages_http import sign_in
from tests.conftest import ADMIN_PASSWORD, Api, register

LINK = '=HYPERLINK("http://evil.example","点我")'
CHILD = {"name": LINK, "school": "+1+1=2", "grade": "-1+1", "class_name": "@SUM(1)",
         "township": "=1+1", "village": "#N/A"}
HELPER, PERIOD = "=2+3", LINK
YEAR = 2025

# Which of the recorded texts each export carries (the template carries none: no <f> still).
EXPORTS = {
    "/ui/children/export.xlsx": set(CHILD.values()),
    "/dashboards/compliance.xlsx": {CHILD[k] for k in ("name", "school", "class_name",
                                                       "village")},
    "/ui/dashboards/compliance.xlsx": {CHILD[k] for k in ("name", "school", "class_name",
                                                          "village")},
    "/audit/grants/export.xlsx": {PERIOD, CHILD["township"]},
    "/ui/audit/grants/export.xlsx": {PERIOD, CHILD["township"]},
    f"/assessments/{YEAR}/export.xlsx": {HELPER, CHILD["name"]},
    f"/ui/assessments/{YEAR}/export.xlsx": {HELPER, CHILD["name"]},
    "/ui/import/template.xlsx": set(),
}


def ok(response: Any) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


def record_hostile_texts(api: Api) -> int:
    """A child, a volunteer and a grant whose texts look like formulas; the last position."""
    child = register(api, **CHILD, id_number=None)["id"]
    helper = ok(api.post("/helpers", {"name": HELPER, "agency": "youth_league",
                                      "role": "volunteer", "phone": "13912345678"}))["id"]
    ok(api.post(f"/children/{child}/pairings", {"helper_id": helper, "since": "2025-09-01"}))
    for semester, rank in ((1, 3), (2, 1)):  # first of the class, and progress: awards
        ok(api.post(f"/children/{child}/exam-results", {
            "school_year": YEAR, "semester": semester, "total_score": 500.0,
            "class_rank": rank, "class_size": 45}))
    ok(api.post("/programmes", {"code": "GIFT", "name": "六一礼物", "funding_agency": "township",
                                "cap_fen": 30000, "period_kind": "once"}))
    return ok(api.post("/grants", {"child_id": child, "programme": "GIFT", "amount_fen": 100,
                                   "period": PERIOD, "kind": "cash"}))["position"]


def sheet_xml_formulas(content: bytes) -> list[str]:
    """The <f> elements of every sheet part of the workbook, as "part: formula"."""
    found = []
    with zipfile.ZipFile(BytesIO(content)) as book:
        for part in book.namelist():
            if re.fullmatch(r"xl/worksheets/[^/]+\.xml", part):
                root = ElementTree.fromstring(book.read(part))
                found += [f"{part}: {e.text}" for e in root.iter() if e.tag.endswith("}f")]
    return found


def cells_holding(content: bytes, texts: set[str]) -> dict[str, list[Any]]:
    book = load_workbook(BytesIO(content))
    held: dict[str, list[Any]] = {}
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.value in texts or (cell.data_type == "e" and cell.value in texts):
                    held.setdefault(cell.value, []).append(cell)
    return held


@pytest.mark.parametrize("path", list(EXPORTS))
def test_every_export_writes_user_text_as_plain_text(client: TestClient, api: Api,
                                                     path: str) -> None:
    position = record_hostile_texts(api)
    assert api.get(f"/assessments/{YEAR}", min_position=position).status_code == 200
    if path.startswith("/ui/"):
        sign_in(client, "admin", ADMIN_PASSWORD)
        response = client.get(path)
    else:
        response = api.get(path, min_position=position)
    assert response.status_code == 200, response.text
    assert sheet_xml_formulas(response.content) == []
    held = cells_holding(response.content, EXPORTS[path])
    assert set(held) == EXPORTS[path]  # every text is there, character for character
    for text, cells in held.items():
        for cell in cells:
            assert cell.data_type == "s", (text, cell.coordinate, cell.data_type)
            assert cell.quotePrefix is text.startswith(FORMULA_STARTS), (text, cell.coordinate)
