"""Logging set-up: one format, and secrets kept out of every record."""

import logging
import re

# Anything that looks like a credential in a log line: bearer tokens, our API tokens, cookies,
# passwords in URLs. tweepy logs request headers at DEBUG; its logger is held at INFO as well.
_SECRET_PATTERNS = [
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"trb_[A-Za-z0-9_-]+"),
    re.compile(r"(?i)(tribune_session=)[^;\s]+"),
    re.compile(r"(?i)(://[^:/\s]+:)[^@\s]+(@)"),
]


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
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def configure_logging(level: str) -> None:
    root = logging.getLogger()
    if not any(isinstance(f, RedactingFilter) for h in root.handlers for f in h.filters):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.addFilter(RedactingFilter())
        root.addHandler(handler)
    root.setLevel(level.upper())
    # uvicorn's loggers keep their own handlers: they get the same filter.
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        for existing in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in existing.filters):
                existing.addFilter(RedactingFilter())
    logging.getLogger("tweepy").setLevel(max(logging.INFO, root.level))
