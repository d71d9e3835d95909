"""Log set-up shared by every reelforge process: text for a terminal, JSON for a log pipeline.

`REELFORGE_LOG_FORMAT=json` writes one JSON object a line (time, level, logger, message, request_id, and any
`extra=` fields); the default is one readable line. Both carry the request id and both redact download
signatures, which are bearer capabilities.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Literal

from pythonjsonlogger.json import JsonFormatter

from reelforge.observability.context import current_request_id

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"
JSON_FIELDS = "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s"


class LogFormatError(ValueError):
    """REELFORGE_LOG_FORMAT names no format: the command says so instead of starting with no logs."""


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request it was written for (`-` outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True


class RedactSignatures(logging.Filter):
    """Keep download signatures (bearer-like capabilities) out of access logs."""

    pattern = re.compile(r"(signature=)[0-9a-f]+")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self.pattern.sub(r"\1<redacted>", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        elif isinstance(record.msg, str):
            record.msg = self.pattern.sub(r"\1<redacted>", record.msg)
        return True


def log_format_from_env() -> LogFormat:
    chosen = os.environ.get("REELFORGE_LOG_FORMAT", "text").strip().lower() or "text"
    if chosen not in LOG_FORMATS:
        raise LogFormatError(f"REELFORGE_LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}, not {chosen!r}")
    return chosen  # type: ignore[return-value]


def configure_logging(level: str = "INFO", log_format: LogFormat | None = None) -> None:
    """Root logging for a reelforge process (uvicorn's loggers propagate here: it runs with log_config=None)."""
    chosen = log_format or log_format_from_env()
    handler = logging.StreamHandler()  # stderr: stdout carries the banner and the MCP stdio protocol
    formatter: logging.Formatter = (
        JsonFormatter(JSON_FIELDS, rename_fields={"asctime": "time", "levelname": "level", "name": "logger"})
        if chosen == "json"
        else logging.Formatter(TEXT_FORMAT)
    )
    handler.setFormatter(formatter)
    # Filters on the handler see every record, including those of loggers created later (uvicorn's).
    handler.addFilter(RequestIdFilter())
    handler.addFilter(RedactSignatures())
    root = logging.getLogger()
    if not root.handlers:  # as basicConfig: a host that configured logging already (a test runner) keeps its own
        root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("alembic").setLevel(logging.WARNING)
