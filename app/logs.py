"""Logging set-up: one format, and secrets kept out of every record."""

import logging
import os
import re
import socket
from typing import ClassVar

from pythonjsonlogger.json import JsonFormatter

# Anything that looks like a credential in a log line: bearer tokens, our API tokens, cookies,
# passwords in URLs. tweepy logs request headers at DEBUG; its logger is held at INFO as well.
_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"trb_[A-Za-z0-9_-]+"),
    re.compile(r"(?i)(tribune_session=)[^;\s]+"),
    re.compile(r"(?i)(://[^:/\s]+:)[^@\s]+(@)"),
]


# Shorter values are not redacted by value (they would mangle ordinary words); the patterns
# above still catch them in headers.
MIN_SECRET_LENGTH = 8


def redact(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(
            lambda m: (
                (m.group(1) if m.groups() else "")
                + "[redacted]"
                + (m.group(2) if m.lastindex and m.lastindex >= 2 else "")
            ),
            text,
        )
    return text


class RedactingFilter(logging.Filter):
    """Rewrites a record whose text holds a secret: known values first, then patterns."""

    secrets: ClassVar[set[str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        cleaned = self.clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_text:
            record.exc_text = self.clean(record.exc_text)
        return True

    @classmethod
    def clean(cls, text: str) -> str:
        # Longest first, so a secret that contains another is removed whole.
        for secret in sorted(cls.secrets, key=len, reverse=True):
            text = text.replace(secret, "[redacted]")
        return redact(text)


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def formatter_for(log_format: str) -> logging.Formatter:
    if log_format == "json":
        # One JSON object per line, for log collectors; the worker says which process spoke.
        return JsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger", "asctime": "time"},
            static_fields={"worker": f"{socket.gethostname()}:{os.getpid()}"},
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(
    level: str, secrets: list[str] | None = None, log_format: str = "text"
) -> None:
    """One handler on the root logger, and redaction on every handler there is."""
    RedactingFilter.secrets.update(s for s in secrets or [] if len(s) >= MIN_SECRET_LENGTH)
    root = logging.getLogger()
    if not any(isinstance(f, RedactingFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(formatter_for(log_format))
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    root.setLevel(level.upper())
    # Every handler there is gets the filter, uvicorn's own included (they do not propagate).
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access"):
        for existing in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in existing.filters):
                existing.addFilter(RedactingFilter())
            if log_format == "json":
                existing.setFormatter(formatter_for(log_format))
    logging.getLogger("tweepy").setLevel(max(logging.INFO, root.level))
