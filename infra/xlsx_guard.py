"""An uploaded workbook checked before openpyxl opens it.

An .xlsx is a zip of XML. openpyxl trusts both: it loads every shared string into memory
when it opens a workbook, so 151 KB of zip expanding to 150 MB of one string took 17 s and
half a gigabyte. Here the zip's directory is read first (how many members, how big each
says it is unpacked, how far it expands), then every XML member is streamed through expat
once (no DTD, so no entity expansion; a bounded number of strings, none longer than a cell
may be), without keeping any of it. Only a file that passes is handed to openpyxl.
zipfile never unpacks more than a member's declared size (a member that lies about it fails
its CRC), so the declared sizes bound what openpyxl can read.
"""

import io
import zipfile
import zlib
from typing import Any
from xml.parsers import expat

MAX_FILE_BYTES = 10 * 2**20
MAX_MEMBERS = 1000
# A full import (5,000 rows of the template's 26 columns) is ~4 MB of XML as openpyxl
# writes it, at ~18:1; Excel writes less. Four times that, and 100:1, leave room for any real
# 台帐; the shared-strings bomb was 1000:1.
MAX_UNPACKED_BYTES = 16 * 2**20
MAX_RATIO = 100
RATIO_FLOOR = 2**20  # below this a member may expand as far as it likes
MAX_STRINGS = 200_000  # shared strings: 5,001 rows x 26 columns, and the notes
MAX_CELL_CHARS = 4000  # the longest field, 原因, holds 4,000 characters
EXCERPT_CHARS = 20
CHUNK = 64 * 1024
# Elements whose text is a cell's value: a shared string, an inline string, a value.
CELL_TEXT = frozenset({"si", "is", "v"})
MB = 2**20
DAMAGED = "不是有效的 .xlsx 文件：文件已损坏，无法读取"


class SheetError(ValueError):
    """The file as a whole cannot be read; the message says why, in Chinese."""


def excerpt(text: str, length: int = EXCERPT_CHARS) -> str:
    """The start of a text, for a message: never the whole of a hostile cell."""
    return text if len(text) <= length else text[:length] + "…"


def check(data: bytes) -> None:
    """Raise SheetError unless data is an .xlsx that openpyxl may open safely."""
    check_size(len(data))
    if _entry_count(data) > MAX_MEMBERS:
        raise SheetError("不是有效的 .xlsx 文件：压缩包内文件过多")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _check_directory(archive.infolist())
            scan = _Scan()  # one for the file: openpyxl reads every member's strings at once
            for info in archive.infolist():
                _stream(archive, info, scan)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
            NotImplementedError, RuntimeError, expat.ExpatError) as error:
        # RuntimeError: an encrypted member; NotImplementedError: an unknown compression.
        raise SheetError(DAMAGED) from error


def check_size(size: int) -> None:
    if size > MAX_FILE_BYTES:
        raise SheetError(f"文件太大：超过 {MAX_FILE_BYTES // MB} MB")


def _entry_count(data: bytes) -> int:
    """The members the zip's end record announces, before zipfile builds one object each."""
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or len(data) < end + 22:
        raise SheetError("不是有效的 .xlsx 文件（不是 Excel 2007 及以后的格式，或已损坏）")
    return int.from_bytes(data[end + 10:end + 12], "little")  # 0xFFFF: zip64, refused


def _check_directory(members: list[zipfile.ZipInfo]) -> None:
    if "[Content_Types].xml" not in {m.filename for m in members}:
        raise SheetError("不是有效的 .xlsx 文件：压缩包里没有 Excel 工作簿")
    if sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
        raise SheetError(f"文件解压后超过 {MAX_UNPACKED_BYTES // MB} MB，请删去多余内容或分批导入")
    for m in members:
        if m.file_size > RATIO_FLOOR and m.file_size > MAX_RATIO * max(m.compress_size, 1):
            raise SheetError("文件压缩比异常（疑似压缩炸弹），拒绝读取")


def _stream(archive: zipfile.ZipFile, info: zipfile.ZipInfo, scan: "_Scan") -> None:
    """Stream one member through expat, if it is XML; keep only counts.

    Every member, whatever its name: openpyxl finds the parts it parses through the
    package's own lists, so a worksheet may be called image1.png.
    """
    with archive.open(info) as member:
        chunk = member.read(CHUNK)
        if not _looks_like_xml(chunk):
            return  # an image, say: no XML parser could read it, openpyxl's neither
        scan.in_cell = 0
        parser = expat.ParserCreate()
        parser.buffer_text = True
        parser.StartDoctypeDeclHandler = _refuse_dtd
        parser.StartElementHandler = scan.start
        parser.EndElementHandler = scan.end
        parser.CharacterDataHandler = scan.text
        while chunk:
            parser.Parse(chunk, False)
            chunk = member.read(CHUNK)
        parser.Parse(b"", True)


def _looks_like_xml(head: bytes) -> bool:
    """Whether an XML parser would start on these bytes: "<" after a BOM or blanks, or
    UTF-16."""
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")
    return head.startswith((b"<", b"\xff\xfe", b"\xfe\xff", b"\x00<"))


def _refuse_dtd(*_: Any) -> None:
    raise SheetError("文件含有文档类型声明（DTD），拒绝读取")


class _Scan:
    """Counts shared strings and the length of the cell text being read."""

    def __init__(self) -> None:
        self.strings = 0
        self.in_cell = 0
        self.length = 0
        self.start_of = ""

    def start(self, name: str, _: Any) -> None:
        local = name.rpartition(":")[2]
        if local in CELL_TEXT:
            self.in_cell += 1
            self.length, self.start_of = 0, ""
        if local == "si":
            self.strings += 1
            if self.strings > MAX_STRINGS:
                raise SheetError(f"文字单元格超过 {MAX_STRINGS} 个，请分批导入")

    def end(self, name: str) -> None:
        if name.rpartition(":")[2] in CELL_TEXT:
            self.in_cell -= 1

    def text(self, data: str) -> None:
        if not self.in_cell:
            return
        self.length += len(data)
        self.start_of = self.start_of or data[:EXCERPT_CHARS + 1]
        if self.length > MAX_CELL_CHARS:
            raise SheetError(f"有单元格内容超过 {MAX_CELL_CHARS} 字"
                             f"（开头：「{excerpt(self.start_of)}」），请检查后再导入")

