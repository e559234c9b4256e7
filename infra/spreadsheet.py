"""Registry spreadsheets (.xlsx) in and out: the import template, row checks, the export.

Township offices keep their 台帐 in Excel. Import reads one child per row under Chinese
headings, checks each row through the same pydantic command as POST /children, and says for
each bad cell what is wrong; registration itself goes through the normal handler. Each
valid row gets a child id and an Idempotency-Key derived from its content, so importing the
same file again registers nobody twice, whoever imports it.
"""

import hashlib
import io
import json
import uuid
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from openpyxl.utils.exceptions import InvalidFileException
from pydantic import ValidationError

from domain.actor import Actor
from domain.errors import ConflictingState, Forbidden, InvalidFact, NotFound
from infra import xlsx_guard, xlsx_writer
from infra.xlsx_guard import SheetError, excerpt
from services import text
from services.commands import RegisterChild
from services.idempotency import IdempotencyRequest

# Heading -> path in the RegisterChild body. The order is the template's column order.
COLUMNS: list[tuple[str, str]] = [
    ("姓名", "name"), ("性别", "sex"), ("出生日期", "birth_date"), ("身份证号", "id_number"),
    ("学校", "school"), ("年级", "grade"), ("班级", "class_name"), ("乡镇", "township"),
    ("村", "village"), ("网格", "grid"), ("留守类型", "left_behind_type"), ("原因", "reason"),
    ("监护人姓名", "guardian.name"), ("关系", "guardian.relation"),
    ("监护人电话", "guardian.phone"), ("监护人年龄", "guardian.age"),
    ("监护人健康状况", "guardian.health"), ("监护人住址", "guardian.address"),
    ("父/母1姓名", "parents.0.name"), ("父/母1关系", "parents.0.relation"),
    ("父/母1电话", "parents.0.phone"), ("父/母1务工地", "parents.0.work_city"),
    ("父/母2姓名", "parents.1.name"), ("父/母2关系", "parents.1.relation"),
    ("父/母2电话", "parents.1.phone"), ("父/母2务工地", "parents.1.work_city"),
]
HEADING_OF = {path: heading for heading, path in COLUMNS}
REQUIRED = ("姓名", "性别", "出生日期", "学校", "年级", "班级", "乡镇", "村", "留守类型",
            "监护人姓名", "关系", "监护人电话")
SEX = {"男": "male", "女": "female"}
LEFT_BEHIND = {"父母均外出": "both_parents_away", "一方外出": "one_parent_away",
               "单亲": "single_parent", "其他": "other"}
STATUS = {"active": "在册", "no_longer_left_behind": "已不属留守", "transferred": "已转出",
          "aged_out": "已满龄", "closed": "已结案"}
MAX_ROWS = 5000
MAX_COLUMNS = 64  # the template has 26; a sheet may add its own notes beside them
NAME_CHARS = 50  # a name is at most 50 characters: the report shows no more of that cell
TOO_MANY_ROWS = f"一次最多导入 {MAX_ROWS} 行（第 1 行为栏目），请删去多余的行或分批导入"
# What openpyxl raises on a damaged workbook that passed xlsx_guard (a part missing, an
# attribute of the wrong type, XML it cannot parse): each means the file, not the service.
BROKEN = (zipfile.BadZipFile, zlib.error, EOFError, OSError, KeyError, IndexError, TypeError,
          AttributeError, ValueError, SyntaxError, InvalidFileException)
# Namespace of the ids of imported children: uuid5 of the row's checked content.
IMPORT_NAMESPACE = uuid.UUID("6f1c2b0e-8d4a-5d2e-9a51-3c7e0b9f4a10")

EXAMPLE_ROW = ["张小明", "男", "2014-03-05", "522601201403051228", "白沙关小学", "六年级",
               "六(2)班", "白沙关镇", "白沙关村", "", "父母均外出", "父母在广州务工",
               "张奶奶", "祖母", "13800001111", 67, "高血压", "白沙关村三组",
               "张大山", "父亲", "13700002222", "广州", "", "", "", ""]

# Chinese reasons for the pydantic error types a spreadsheet row runs into.
REASONS = {
    "missing": "必填，不能为空",
    "string_type": "必填，不能为空",
    "uuid_parsing": "格式不对",
    "datetime_parsing": "时间格式不对",
    "datetime_from_date_parsing": "时间格式不对",
    "bool_parsing": "应为是或否",
    "string_too_short": "必填，不能为空",
    "string_too_long": "太长",
    "string_pattern_mismatch": "格式不对",
    "literal_error": "不是可选的值",
    "date_from_datetime_parsing": "日期格式不对，应为 2014-03-05",
    "date_parsing": "日期格式不对，应为 2014-03-05",
    "date_type": "日期格式不对，应为 2014-03-05",
    "int_parsing": "应为整数",
    "greater_than_equal": "数值太小",
    "less_than_equal": "数值太大",
    "too_long": "太多",
}
REASONS.update(text.REASONS_ZH)  # forbidden characters (services/text.py)


@dataclass
class Problem:
    """One thing wrong in a row: the cell (e.g. C5), its heading, and why."""

    cell: str
    heading: str
    reason: str


@dataclass
class Row:
    """One spreadsheet row: its number, and either a checked command or its problems."""

    number: int
    name: str
    command: RegisterChild | None = None
    problems: list[Problem] = field(default_factory=list)
    outcome: str = ""  # registered / skipped / refused, once imported
    child_id: str | None = None
    letters: dict[str, str] = field(default_factory=dict, repr=False)  # path -> column


# --- the template and the export ----------------------------------------------------------

def template() -> bytes:
    """The import template: the headings, one example row, and a sheet explaining values."""
    # Long digit strings must stay text, or Excel turns ID numbers into 5.226E+17.
    text = [i for i, (_, path) in enumerate(COLUMNS, start=1)
            if path == "id_number" or path.endswith("phone")]
    notes = [["必填", "、".join(REQUIRED)], ["性别", "男 或 女"],
             ["出生日期", "日期，如 2014-03-05"], ["留守类型", "、".join(LEFT_BEHIND)],
             ["电话", "11 位手机号，或带区号的固定电话，如 0851-1234567"],
             ["身份证号", "18 位，请设为文本格式"]]
    return xlsx_writer.workbook([
        xlsx_writer.Sheet("台帐", [h for h, _ in COLUMNS], [EXAMPLE_ROW], text_columns=text),
        xlsx_writer.Sheet("说明", ["栏目", "说明"], notes)])


REGISTRY_HEADINGS = ["姓名", "性别", "出生日期", "学校", "年级", "班级", "乡镇", "村",
                     "留守类型", "状态", "建档完整度"]


def registry_export(rows: Iterable[dict[str, Any]]) -> bytes:
    """The registry as the API lists it, under Chinese headings."""
    sex = {v: k for k, v in SEX.items()}
    kinds = {v: k for k, v in LEFT_BEHIND.items()}
    return xlsx_writer.workbook([xlsx_writer.Sheet("留守儿童台帐", REGISTRY_HEADINGS, (
        [r["name"], sex.get(r["sex"], r["sex"]), r["birth_date"], r["school"], r["grade"],
         r["class_name"], r["township"], r["village"],
         kinds.get(r["left_behind_type"], r["left_behind_type"]),
         STATUS.get(r["status"], r["status"]), f"{round(float(r['completeness']) * 100)}%"]
        for r in rows))])


# --- reading an upload ---------------------------------------------------------------------

def read_rows(data: bytes) -> list[Row]:
    """Every non-empty row of the first sheet, each checked; SheetError for a bad file."""
    xlsx_guard.check(data)  # sizes, zip bombs and DTDs, before openpyxl sees a byte
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True,
                             keep_links=False)
    except BROKEN as error:
        raise SheetError(xlsx_guard.DAMAGED) from error
    try:
        if not book.worksheets:
            raise SheetError("工作簿里没有工作表")
        return _read_sheet(book.worksheets[0])
    except SheetError:
        raise
    except BROKEN as error:  # read-only parses each row as it is asked for
        raise SheetError(xlsx_guard.DAMAGED) from error
    finally:
        book.close()


def _read_sheet(sheet: Any) -> list[Row]:
    if (sheet.max_row or 0) > MAX_ROWS + 1:  # the size the sheet declares, before reading
        raise SheetError(TOO_MANY_ROWS)
    # Streamed, one row at a time; never past the last row allowed, nor the columns we read.
    lines = sheet.iter_rows(max_row=MAX_ROWS + 2, max_col=MAX_COLUMNS, values_only=True)
    headings = [str(h).strip() if h is not None else "" for h in next(lines, ())]
    missing = [h for h in REQUIRED if h not in headings]
    if missing:
        raise SheetError(f"第 1 行缺少栏目：{'、'.join(missing)}")
    paths = {i: dict(COLUMNS).get(h) for i, h in enumerate(headings)}
    letters = {path: get_column_letter(i + 1) for i, path in paths.items() if path}
    rows = []
    for number, values in enumerate(lines, start=2):
        if number > MAX_ROWS + 1:
            raise SheetError(TOO_MANY_ROWS)
        if all(v is None or str(v).strip() == "" for v in values):
            continue
        cells = {paths[i]: v for i, v in enumerate(values) if paths.get(i)}
        rows.append(check_row(number, cells, letters))
    return rows


def check_row(number: int, cells: dict[str, Any], letters: dict[str, str]) -> Row:
    """Turn one row's cells into a RegisterChild, or say which cells are wrong."""
    row = Row(number, excerpt(_text(cells.get("name")) or "", NAME_CHARS), letters=letters)
    body, problems = _body(cells), []
    try:
        row.command = RegisterChild.model_validate(body)
    except ValidationError as error:
        for e in error.errors():
            problems.append(_problem(number, e["loc"], e["type"], e["msg"], letters))
    row.problems = _unique(problems)
    if row.problems:
        row.command = None
    return row


def _problem(number: int, loc: tuple[Any, ...], kind: str, msg: str,
             letters: dict[str, str]) -> Problem:
    path = ".".join(str(p) for p in loc)
    # A whole parent missing its name shows on the parent's name cell.
    if path not in HEADING_OF and f"{path}.name" in HEADING_OF:
        path = f"{path}.name"
    heading = HEADING_OF.get(path, path)
    return Problem(f"{letters.get(path, '?')}{number}", heading, REASONS.get(kind, msg))


def _unique(problems: list[Problem]) -> list[Problem]:
    seen, kept = set(), []
    for p in problems:
        if (p.cell, p.reason) not in seen:
            seen.add((p.cell, p.reason))
            kept.append(p)
    return kept


def _body(cells: dict[str, Any]) -> dict[str, Any]:
    """The JSON body of POST /children from the cells, with Chinese values mapped."""
    body: dict[str, Any] = {"guardian": {}, "parents": [{}, {}]}
    for path, value in cells.items():
        text = _text(value)
        if text is None:
            continue
        if path == "sex":
            text = SEX.get(text, text)
        elif path == "left_behind_type":
            text = LEFT_BEHIND.get(text, text)
        elif path == "birth_date":
            text = _date(value)
        _put(body, path, text)
    body["parents"] = [p for p in body["parents"] if p]
    if not body["guardian"]:
        del body["guardian"]
    return body


def _put(body: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    if parts[0] == "parents":
        body["parents"][int(parts[1])][parts[2]] = value
    elif len(parts) == 2:
        body[parts[0]][parts[1]] = value
    else:
        body[path] = value


def _text(value: Any) -> str | None:
    """A cell as text: numbers typed into phone or ID cells come back without '.0'."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, datetime):
        value = value.date()
    text = str(value).strip()
    return text or None


def _date(value: Any) -> str:
    if isinstance(value, (date, datetime)):
        return (value.date() if isinstance(value, datetime) else value).isoformat()
    text = str(value).strip().replace("/", "-").replace(".", "-")
    for fmt in ("%Y-%m-%d", "%Y年%m月%d日"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return text  # pydantic names it as a bad date


# --- registering the valid rows ------------------------------------------------------------

def row_identity(cmd: RegisterChild) -> tuple[uuid.UUID, str]:
    """The child id and Idempotency-Key of a row: both derived from its checked content."""
    content = json.dumps(cmd.model_dump(mode="json", exclude={"id"}), sort_keys=True,
                         ensure_ascii=False)
    digest = hashlib.sha256(content.encode()).hexdigest()
    return uuid.uuid5(IMPORT_NAMESPACE, digest), f"import-registry-{digest[:40]}"


def import_rows(rows: list[Row], register: Callable[..., Any], exists: Callable[[uuid.UUID], bool],
                actor: Actor, progress: Callable[[], None] = lambda: None) -> None:
    """Register each valid row through the normal handler; note each row's outcome."""
    for row in rows:
        if row.command is not None:
            _import_one(row, row.command, register, exists, actor)
        else:
            row.outcome = "invalid"
        progress()


def _import_one(row: Row, cmd: RegisterChild, register: Callable[..., Any],
                exists: Callable[[uuid.UUID], bool], actor: Actor) -> None:
    child_id, key = row_identity(cmd)
    row.child_id = str(child_id)
    if exists(child_id):
        row.outcome = "skipped"
        return
    cmd = cmd.model_copy(update={"id": child_id})
    idem = IdempotencyRequest.of(actor.username, key, "POST", "/children",
                                 cmd.model_dump(mode="json"))
    try:
        register(cmd, actor, idem)
        row.outcome = "registered"
    except ConflictingState as error:
        if exists(child_id):
            row.outcome = "skipped"  # imported by someone else a moment ago
        else:  # e.g. the ID number is already another child's
            _refuse(row, "id_number" if "ID number" in str(error) else "", str(error))
    except (InvalidFact, Forbidden, NotFound) as error:
        _refuse(row, getattr(error, "field", ""), getattr(error, "reason", str(error)))


def _refuse(row: Row, path: str, reason: str) -> None:
    row.outcome = "refused"
    cell = f"{row.letters.get(path, '')}{row.number}"
    row.problems.append(Problem(cell, HEADING_OF.get(path, path or "—"), excerpt(reason, 200)))


def summary(rows: list[Row]) -> dict[str, int]:
    counts = {"registered": 0, "skipped": 0, "invalid": 0, "refused": 0}
    for row in rows:
        counts[row.outcome or "invalid"] = counts.get(row.outcome or "invalid", 0) + 1
    return counts


def iter_all(page: Callable[[int], list[dict[str, Any]]]) -> Iterator[dict[str, Any]]:
    """Every row of a cursor-paged list: page(after_position) until a short page."""
    after = 0
    while True:
        rows = page(after)
        yield from rows
        if not rows:
            return
        after = int(rows[-1]["position"])
