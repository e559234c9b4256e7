"""Every .xlsx the service writes: text stays text, whatever it starts with.

openpyxl stores a string that starts with "=" as a live formula, and one that reads like an
error code ("#N/A") as an error; a child named =HYPERLINK("http://evil.example","点我") would
become a link in the office's Excel. So every str here is written as a string cell, never
parsed. Text that Excel would take for a formula when someone edits the cell (= + - @, tab,
CR first) also gets the quotePrefix style: the apostrophe Excel shows only in the formula
bar, not in the value, so the visible text is exactly what was recorded.
Numbers, dates and booleans the service computes keep their types.
"""

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook  # type: ignore[import-untyped]
from openpyxl.cell.cell import Cell  # type: ignore[import-untyped]
from openpyxl.styles import Font  # type: ignore[import-untyped]
from openpyxl.utils import get_column_letter  # type: ignore[import-untyped]
from openpyxl.worksheet.worksheet import Worksheet  # type: ignore[import-untyped]

# What spreadsheet programs read as the start of a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


@dataclass
class Sheet:
    """One sheet: a bold, frozen heading row (none when headings is empty) and its rows.

    text_columns are 1-based columns formatted as text ("@"), so what a person types there
    later (an ID number) is not turned into 5.226E+17.
    """

    title: str
    headings: Sequence[str]
    rows: Iterable[Sequence[Any]]
    text_columns: Sequence[int] = ()


def workbook(sheets: Iterable[Sheet]) -> bytes:
    """The .xlsx bytes of the sheets, in order."""
    book = Workbook()
    book.remove(book.active)
    for spec in sheets:
        _fill(book.create_sheet(spec.title), spec)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _fill(sheet: Worksheet, spec: Sheet) -> None:
    if spec.headings:
        append(sheet, spec.headings)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for index, heading in enumerate(spec.headings, start=1):
            sheet.column_dimensions[get_column_letter(index)].width = max(10, 2 * len(heading) + 4)
        sheet.freeze_panes = "A2"
    for row in spec.rows:
        append(sheet, row)
    for column in spec.text_columns:
        for (cell,) in sheet.iter_rows(min_col=column, max_col=column):
            cell.number_format = "@"


def append(sheet: Worksheet, values: Sequence[Any]) -> None:
    """sheet.append, but every str becomes a plain string cell."""
    sheet.append([cell(sheet, v) if isinstance(v, str) else v for v in values])


def cell(sheet: Worksheet, text: str) -> Cell:
    """A string cell holding text exactly: never a formula, an error code or a number."""
    made = Cell(sheet, value=text)  # checks what XML cannot hold, as openpyxl always does
    made.data_type = "s"  # after the value: openpyxl set "f" for "=…" and "e" for "#N/A"
    if text.startswith(FORMULA_STARTS):
        made.quotePrefix = True
    return made
