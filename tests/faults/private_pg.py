"""A PostgreSQL cluster of the test's own, on a free port: stopping it disturbs nobody.

The shared server on 5432 runs every other engineer's tests, so the restart test never
touches it. PostgreSQL refuses to run as root, so as root the tools run as `postgres`.
"""

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from tests.faults.harness import free_port


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


class PrivateCluster:
    """initdb into a temporary directory, then start and stop at will."""

    def __init__(self) -> None:
        bin_dir = _bin_dir()
        if bin_dir is None:
            if os.environ.get("CI") == "true":
                pytest.fail("no /usr/lib/postgresql/*/bin/initdb (CI=true: never skip)")
            pytest.skip("PostgreSQL server binaries not installed")
        self.bin = bin_dir
        self.port = free_port()
        self.home = Path(tempfile.mkdtemp(prefix="qianshou-pg-"))
        self.data = self.home / "data"
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres", "postgres")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=60)

    def init(self) -> "PrivateCluster":
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync", "-E", "UTF8")
        return self

    def start(self) -> "PrivateCluster":
        options = f"-p {self.port} -k {self.home} -c listen_addresses=127.0.0.1"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.home / "server.log"),
                  "-o", options, "-w", "start")
        return self

    def stop(self, mode: str = "fast") -> None:
        """fast: the server ends every session (rolling back open transactions) and exits."""
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass  # already stopped
        shutil.rmtree(self.home, ignore_errors=True)
