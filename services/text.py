"""Which characters a case file may hold: one rule for every text that enters (issue 19).

PostgreSQL cannot store NUL; XML (every .xlsx export) cannot hold the other C0 controls,
the non-characters U+FFFE/U+FFFF or a lone surrogate, so one such character in a name made
the exports of everyone whose reach includes that child invalid. They are refused where the
text enters: the command models (services/commands.py) and the web edge (infra/web/edge.py)
call `problem`, which names the class of character found.

Single-line texts (names, phones, places, query parameters) refuse tab and line breaks too;
free texts (findings, notes, descriptions, reasons) keep tab, LF and the CR of a CRLF.
"""

import re

# Cc: C0, DEL and C1. Tab, LF and CR are judged apart (free text keeps them).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# A CR not followed by LF: an old Mac line end, or a stray one that breaks a CSV or a log.
_LONE_CR = re.compile(r"\r(?!\n)")
_LINE_BREAK = re.compile(r"[\t\n\r\x85\u2028\u2029]")
# Non-characters: U+FDD0..U+FDEF and the last two code points of every plane.
_NONCHARACTER = re.compile("[\ufdd0-\ufdef\ufffe\uffff" + "".join(
    f"{chr(plane * 0x10000 + 0xFFFE)}{chr(plane * 0x10000 + 0xFFFF)}"
    for plane in range(1, 17)) + "]")
_SURROGATE = re.compile("[\ud800-\udfff]")

# The same rule for /openapi.json (ECMA-262 and Python regex alike), so that a client and the
# fuzzer know it: a string of allowed characters. (Non-characters beyond the first plane and
# a lone CR are refused too, but left out of the pattern.)
_NEVER = r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\ufdd0-\ufdef\ufffe\uffff"
FREE_TEXT_PATTERN = rf"^[^{_NEVER}]*$"
SINGLE_LINE_PATTERN = rf"^[^{_NEVER}\t\n\r\u2028\u2029]*$"

# The reasons, each with the error type that names it (pydantic's `type`, the pages' key).
CONTROL = ("control_character", "must not contain control characters")
NONCHARACTER = ("noncharacter", "must not contain Unicode non-characters (such as U+FFFF)")
SURROGATE = ("lone_surrogate", "must not contain lone surrogates (invalid UTF-16)")
LINE_BREAK = ("line_break", "must be a single line (no tab or line break)")

# What a reader of the pages and of an import report sees for each type.
REASONS_ZH = {
    "control_character": "含有不可见的控制字符，请删去后重试",
    "noncharacter": "含有无效的字符（Unicode 非字符），请删去后重试",
    "lone_surrogate": "含有无效的字符（残缺的 UTF-16 代理项），请删去后重试",
    "line_break": "只能填一行，不能含有换行或制表符",
}


def problem(value: str, multiline: bool = False) -> tuple[str, str] | None:
    """(type, reason) of the first kind of forbidden character in value, or None."""
    if _SURROGATE.search(value):
        return SURROGATE
    if _CONTROL.search(value) or (multiline and _LONE_CR.search(value)):
        return CONTROL
    if _NONCHARACTER.search(value):
        return NONCHARACTER
    if not multiline and _LINE_BREAK.search(value):
        return LINE_BREAK
    return None


def replaced(value: str, mark: str = "\ufffd") -> str:
    """value with every character free text may not hold replaced by mark: for what must be
    kept whatever it holds (a read's stated purpose in the read audit)."""
    return "".join(mark if problem(ch, multiline=True) else ch for ch in value)


def shown(value: str) -> str:
    """value with each forbidden character written as its escape (\\u0000), so that an
    answer or a page can name a field whose very name is bad."""
    return "".join(f"\\u{ord(ch):04x}" if problem(ch) else ch for ch in value)
