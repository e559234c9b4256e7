"""infra/xlsx_writer: text that starts like a formula, or reads like an error code or a number,
is written as a string cell holding exactly that text; what the service computes keeps its
type. The API cannot record text starting with a tab or CR (fields are stripped), so those
are tried here; tests/e2e/test_spreadsheet_safety.py goes through every export."""

import zipfile
from io import BytesIO

import pytest
from openpyxl import load_workbook

from infra.xlsx_writer import FORMULA_STARTS, Sheet, workbook

TEXTS = ['=HYPERLINK("http://evil.example","点我")', "=1+1", "+1+1", "-1+1", "@SUM(A1)",
         "\t=1+1", "\r=1+1", "\n=1+1", "#N/A", "#DIV/0!", "0012", "1E5", "TRUE", "王小芳", ""]


@pytest.mark.parametrize("text", TEXTS)
def test_text_is_a_string_cell_whatever_it_starts_with(text: str) -> None:
    data = workbook([Sheet("台帐", ["姓名", "人数"], [[text, 5]])])
    with zipfile.ZipFile(BytesIO(data)) as book:
        assert b"<f>" not in book.read("xl/worksheets/sheet1.xml")
    sheet = load_workbook(BytesIO(data))["台帐"]
    cell, number = sheet["A2"], sheet["B2"]
    if not text:
        assert cell.value is None  # an empty text is an empty cell, as before
        return
    # XML reads a CR as a line feed (its end-of-line rule); every other character stays.
    assert cell.value == text.replace("\r", "\n") and cell.data_type == "s"
    assert cell.quotePrefix is text.startswith(FORMULA_STARTS)
    assert number.value == 5 and number.data_type == "n"


def test_text_columns_are_formatted_as_text_and_headings_are_text() -> None:
    data = workbook([Sheet("台帐", ["=身份证号", "电话"], [["5226", "138"]], text_columns=[2])])
    sheet = load_workbook(BytesIO(data))["台帐"]
    assert sheet["A1"].value == "=身份证号" and sheet["A1"].data_type == "s"
    assert [sheet["B1"].number_format, sheet["B2"].number_format] == ["@", "@"]
    assert sheet["A2"].number_format == "General"
