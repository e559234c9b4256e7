"""structlog set-up: JSON lines in production, readable lines on a console.

Log lines carry ids, paths, statuses and timings; never names, phones, ID numbers or notes.
"""

import logging
import sys

import structlog


# Processors run just before rendering, in every process that configures logging; empty in
# production. The test suite adds one that scans every line for personal data.
EXTRA_PROCESSORS: list[structlog.typing.Processor] = []


def configure_logging(json_lines: bool, level: str = "INFO") -> None:
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer(ensure_ascii=False) if json_lines
        else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *EXTRA_PROCESSORS,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)),
        # Resolved per call, so a redirected stderr (tests, daemons) receives the lines.
        logger_factory=lambda *_: structlog.PrintLogger(file=sys.stderr),
        cache_logger_on_first_use=False,
    )
