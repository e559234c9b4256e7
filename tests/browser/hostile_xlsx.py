"""Hostile workbooks for the import tests, each built here from the import template's
headings and one good row (tests/browser/test_pages_http.py's GOOD)."""

import io
import re
import struct
import zipfile
from collections.abc import Callable, Iterable
from functools import cache
from random import Random

from tests.browser.test_pages_http import GOOD, sheet_with

SHEET = "xl/worksheets/sheet1.xml"
NAME_CELL = re.compile(rb'<c r="A2"[^>]*>.*?</c>')
STRINGS_TYPE = (b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
                b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>')
STRINGS_REL = (b'<Relationship Id="rIdStrings" Target="sharedStrings.xml" Type="http://'
               b'schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"/>')
LAUGHS = (b'<!DOCTYPE worksheet [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (n, b"&lol%d;" % (n - 1) * 10 if n > 1 else
                                                  b"&lol;" * 10) for n in range(1, 10))
          + b"]>")


def rezip(data: bytes, change: Callable[[str, bytes], bytes | None],
          extra: Iterable[tuple[str, Iterable[bytes]]] = ()) -> bytes:
    """The workbook with each member passed through change (None drops it), and members
    added whose content is streamed from chunks (never held whole)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            body = change(info.filename, source.read(info))
            if body is not None:
                target.writestr(info.filename, body)
        for name, chunks in extra:
            with target.open(name, "w") as member:
                for chunk in chunks:
                    member.write(chunk)
    return out.getvalue()


def good() -> bytes:
    return sheet_with([GOOD])


def _with_shared_name(chunks: Callable[[], Iterable[bytes]]) -> bytes:
    """GOOD, its name cell pointing at the one shared string, whose text is chunks."""
    def change(name: str, body: bytes) -> bytes:
        if name == SHEET:
            return NAME_CELL.sub(b'<c r="A2" t="s"><v>0</v></c>', body)
        if name == "[Content_Types].xml":
            return body.replace(b"</Types>", STRINGS_TYPE + b"</Types>")
        if name == "xl/_rels/workbook.xml.rels":
            return body.replace(b"</Relationships>", STRINGS_REL + b"</Relationships>")
        return body

    def strings() -> Iterable[bytes]:
        yield (b'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats'
               b'.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>')
        yield from chunks()
        yield b"</t></si></sst>"

    return rezip(good(), change, [("xl/sharedStrings.xml", strings())])


@cache
def shared_strings_bomb() -> bytes:
    """~150 KB of zip whose one shared string is 150 MB: issue 19's file."""
    return _with_shared_name(lambda: (b"A" * 2**20 for _ in range(150)))


@cache
def understated_bomb() -> bytes:
    """The same bomb, its directory claiming the string part unpacks to 1,000 bytes."""
    data = bytearray(shared_strings_bomb())
    name = b"xl/sharedStrings.xml"
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        at = data.find(signature)
        while at >= 0:
            if data[at + name_at:at + name_at + len(name)] == name:
                data[at + size_at:at + size_at + 4] = struct.pack("<I", 1000)
            at = data.find(signature, at + 4)
    return bytes(data)


def long_shared_cell() -> bytes:
    """A name cell of 4,001 characters, as a shared string (how Excel writes text)."""
    return _with_shared_name(lambda: [b"A" * 4001])


def long_inline_cell() -> bytes:
    """A reason cell of 4,001 characters, as an inline string (how openpyxl writes text)."""
    return sheet_with([[*GOOD[:11], "长" * 4001, *GOOD[12:]]])


def billion_laughs() -> bytes:
    """The sheet declares entities nine levels deep and its name cell expands them."""
    def change(name: str, body: bytes) -> bytes:
        if name != SHEET:
            return body
        body = NAME_CELL.sub(b'<c r="A2" t="inlineStr"><is><t>&lol9;</t></is></c>', body)
        declaration = re.match(rb"<\?xml[^>]*\?>", body)
        at = declaration.end() if declaration else 0
        return body[:at] + LAUGHS + body[at:]
    return rezip(good(), change)


def not_a_zip() -> bytes:
    return "姓名,性别\n王小芳,女\n".encode()


def corrupt_zip() -> bytes:
    """The directory intact, a stretch of the compressed members overwritten."""
    data = bytearray(good())
    data[len(data) // 3:len(data) // 3 + 200] = bytes(200)
    return bytes(data)


def truncated_zip() -> bytes:
    return good()[: len(good()) - 30]


def zip_of_text() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("台帐.txt", "王小芳 女")
    return out.getvalue()


def no_sheets() -> bytes:
    def change(name: str, body: bytes) -> bytes | None:
        if name == "xl/workbook.xml":
            return re.sub(rb"<sheets>.*</sheets>", b"<sheets/>", body)
        return None if name == SHEET else body
    return rezip(good(), change)


def too_many_rows() -> bytes:
    """5,001 rows under the headings, one more than an import takes."""
    return sheet_with([GOOD] * 5001)


def far_last_row() -> bytes:
    """One good row, then a row at 1,048,576 and no <dimension>: openpyxl would hand out a
    million empty rows in between."""
    far = b'<row r="1048576"><c r="A1048576" t="inlineStr"><is><t>x</t></is></c></row>'

    def change(name: str, body: bytes) -> bytes:
        if name != SHEET:
            return body
        body = re.sub(rb"<dimension[^>]*/>", b"", body)
        return body.replace(b"</sheetData>", far + b"</sheetData>")
    return rezip(good(), change)


def dense_member() -> bytes:
    """A 10 MB part of one repeated byte: under the size bound, far over the ratio."""
    return rezip(good(), lambda _, body: body, [("xl/media/image1.png", [bytes(10 * 2**20)])])


def many_members() -> bytes:
    """1,001 empty parts: zipfile would build an object for each before anything else."""
    return rezip(good(), lambda _, body: body,
                 [(f"xl/media/{n}.png", [b""]) for n in range(1001)])


def many_strings() -> bytes:
    """200,001 different shared strings: openpyxl builds an object for each on open."""
    random = Random(19)
    return _with_shared_name(lambda: [b"x</t></si>" + b"".join(
        b"<si><t>%08x</t></si>" % random.getrandbits(32) for _ in range(200_000)) + b"<si><t>"])


def too_big_file() -> bytes:
    """One byte over the 10 MB any import reads."""
    return bytes(10 * 2**20 + 1)


def disguised_laughs() -> bytes:
    """billion_laughs with its sheet stored as xl/media/image1.png: openpyxl finds it by the
    workbook's relationships, whatever it is called."""
    disguise = b"/xl/media/image1.png"

    def change(name: str, body: bytes) -> bytes:
        return body.replace(b"/" + SHEET.encode(), disguise)
    data = rezip(billion_laughs(), change)
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            renamed = disguise[1:].decode() if info.filename == SHEET else info.filename
            target.writestr(renamed, source.read(info))
    return out.getvalue()
