"""The sources Tribune knows, by slug. Adding a network means adding a line here."""

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from app.config import Settings
from app.errors import Invalid
from app.ingest.base import Source
from app.ingest.sources.replay import ReplayConfig, ReplaySource
from app.ingest.sources.x_common import XContext
from app.ingest.sources.x_search import XSearchConfig, XSearchSource
from app.ingest.sources.x_stream import XStreamConfig, XStreamSource

M = TypeVar("M", bound=BaseModel)

SOURCES: dict[str, type[Source]] = {
    ReplaySource.slug: ReplaySource,
    XStreamSource.slug: XStreamSource,
    XSearchSource.slug: XSearchSource,
}


def _validated(model: type[M], kind: str, config: dict[str, Any]) -> M:
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise Invalid(f"bad {kind} config: {where}: {first['msg']}") from exc


def x_context(settings: Settings) -> XContext:
    return XContext(
        credentials=settings.x_credentials(),
        base_url=settings.x_api_base_url,
        backoff_scale=settings.x_backoff_scale,
    )


def build_source(kind: str, config: dict[str, Any], settings: Settings) -> Source:
    """An instance of the source ``kind`` with its validated config."""
    source: Source
    if kind == ReplaySource.slug:
        source = ReplaySource(_validated(ReplayConfig, kind, config))
    elif kind == XStreamSource.slug:
        source = XStreamSource(_validated(XStreamConfig, kind, config), x_context(settings))
    elif kind == XSearchSource.slug:
        source = XSearchSource(_validated(XSearchConfig, kind, config), x_context(settings))
    else:
        known = ", ".join(sorted(SOURCES))
        raise Invalid(f"unknown source {kind!r} (known: {known})")
    source.max_batch = settings.ingest_batch_size
    return source
