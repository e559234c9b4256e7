"""Every log line of the whole suite is scanned for the personal data the tests write.

Each pytest process (each xdist worker, or the only one) adds a processor to
infra.logging.EXTRA_PROCESSORS that checks every line before it is rendered, and writes what
it saw to a shared folder when it finishes; the controlling process reads those files at the
end and fails the run if any line held a name, phone, ID number, address or note.
"""

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest

from infra import logging as qlogging

ENV = "QIANSHOU_LOG_SCAN_DIR"
# What the suite's fixtures and tests write into files (tests/conftest.child_body and others).
PERSONAL = ("张小明", "张奶奶", "张大山", "13800001111", "13700002222", "522601201403051228",
            "白沙关村三组", "秘密内容", "只给心理老师看的记录", "欧阳小芳", "父母在广州务工")


class Scanner:
    def __init__(self) -> None:
        self.lines = 0
        self.leaks: list[str] = []

    def __call__(self, _: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
        self.lines += 1
        text = json.dumps(event, ensure_ascii=False, default=str)
        found = [p for p in PERSONAL if p in text]
        if found and len(self.leaks) < 20:
            self.leaks.append(f"{found}: {text[:300]}")
        return event


SCANNER = Scanner()


def configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput"):  # the controller (or a run without xdist)
        os.environ.setdefault(ENV, tempfile.mkdtemp(prefix="qianshou-log-scan-"))
    qlogging.EXTRA_PROCESSORS.append(SCANNER)


def finish(session: pytest.Session) -> None:
    folder = Path(os.environ[ENV])
    name = getattr(session.config, "workerinput", {}).get("workerid", "main")
    (folder / f"{name}.json").write_text(json.dumps(
        {"lines": SCANNER.lines, "leaks": SCANNER.leaks}, ensure_ascii=False))
    if hasattr(session.config, "workerinput"):
        return
    reports = [json.loads(f.read_text()) for f in folder.glob("*.json")]
    lines = sum(r["lines"] for r in reports)
    leaks = [leak for r in reports for leak in r["leaks"]]
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"log scan: {lines} log lines, {len(leaks)} with personal data")
    if leaks:
        if reporter is not None:
            for leak in leaks:
                reporter.write_line(f"  personal data in a log line: {leak}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
