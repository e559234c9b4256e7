"""The suite-wide log scan finds personal data in a line, and passes a clean one."""

from tests.log_scan import Scanner


def test_the_scanner_flags_a_line_with_a_name_or_phone() -> None:
    scanner = Scanner()
    scanner(None, "info", {"event": "request", "route": "/children/{child_id}", "status": 200})
    scanner(None, "info", {"event": "oops", "guardian": {"phone": "13800001111"}})
    assert scanner.lines == 2
    assert len(scanner.leaks) == 1 and "13800001111" in scanner.leaks[0]
