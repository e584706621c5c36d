"""The sources Tribune knows, by slug. Adding a network means adding a line here."""

from typing import Any

from pydantic import ValidationError

from app.errors import Invalid
from app.ingest.base import Source
from app.ingest.sources.replay import ReplayConfig, ReplaySource

SOURCES: dict[str, type[Source]] = {
    ReplaySource.slug: ReplaySource,
}


def build_source(kind: str, config: dict[str, Any]) -> Source:
    """An instance of the source ``kind`` with its validated config."""
    if kind == ReplaySource.slug:
        try:
            return ReplaySource(ReplayConfig.model_validate(config))
        except ValidationError as exc:
            raise Invalid(f"bad replay config: {exc.errors()[0]['msg']}") from exc
    known = ", ".join(sorted(SOURCES))
    raise Invalid(f"unknown source {kind!r} (known: {known})")
