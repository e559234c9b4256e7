"""Fault tests start real processes and take minutes: they run with `make test-faults`
(`pytest -m faults tests/faults`), and are skipped by a plain `pytest`/`make test`."""

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if "faults" in (config.option.markexpr or ""):
        return
    skip = pytest.mark.skip(reason="fault test: run with make test-faults")
    for item in items:
        if "faults" in item.keywords:
            item.add_marker(skip)
