"""Pure parsing of X API v2 post payloads (filtered stream and recent search share the shape).

See ../shared/X_API.md: text arrives HTML-escaped (unescape once here, escape once at render);
long posts carry their full text in note_tweet.text; authors come in includes.users, joined by
author_id; ids are strings and stay strings.
"""

import html
from datetime import UTC, datetime
from typing import Any

from app.ingest.schemas import NormalisedPost

# Bidi overrides, embeddings and isolates, and invisible zero-width characters: they make a
# post read differently from what it says (a classic for spoofed names and links). Zero-width
# joiners and non-joiners stay: emoji sequences and Persian or Indic text need them. NUL goes
# too: it is no text anyone sees, and PostgreSQL cannot store it (db.py refuses it everywhere).
_INVISIBLE = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x200E, 0x200F, 0x2060, 0xFEFF, 0]
)


def clean_text(text: str) -> str:
    """Text as people should see it: invisible direction and width tricks (and NULs) removed."""
    return text.translate(_INVISIBLE)


class PayloadError(ValueError):
    """A payload that is not a post (X v2, or a Mastodon status): reported and skipped, never
    fatal to a source."""


def _users_by_id(includes: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    users = (includes or {}).get("users") or []
    return {str(u["id"]): u for u in users if isinstance(u, dict) and "id" in u}


def parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError) as exc:
        raise PayloadError(f"bad created_at {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def parse_post(
    data: dict[str, Any],
    includes: dict[str, Any] | None,
    source: str,
    raw: dict[str, Any] | None = None,
) -> NormalisedPost:
    """One post object (``data``) with the response's ``includes``; ``raw`` is what to keep
    of the payload (by default, the post and the includes)."""
    try:
        post_id = str(data["id"])
        author_id = str(data["author_id"])
        escaped = data["text"]
    except (KeyError, TypeError) as exc:
        raise PayloadError(f"post without id, author_id or text: {exc}") from exc
    note = data.get("note_tweet")
    if isinstance(note, dict) and isinstance(note.get("text"), str):
        escaped = note["text"]
    if not isinstance(escaped, str):
        raise PayloadError("post text is not a string")
    author = _users_by_id(includes).get(author_id, {})
    mentions = tuple(
        str(m.get("username", "")).lower()
        for m in (data.get("entities") or {}).get("mentions") or []
        if isinstance(m, dict)
    )
    referenced = data.get("referenced_tweets") or []
    is_retweet = any(isinstance(r, dict) and r.get("type") == "retweeted" for r in referenced)
    created = data.get("created_at")
    return NormalisedPost(
        source=source,
        external_id=post_id,
        author_id=author_id,
        author_handle=clean_text(str(author.get("username", ""))),
        author_name=clean_text(str(author.get("name", ""))),
        author_avatar_url=str(author.get("profile_image_url", "")),
        text=clean_text(html.unescape(escaped)),
        lang=str(data.get("lang", "") or ""),
        posted_at=parse_time(created) if created else datetime.now(UTC),
        is_retweet=is_retweet,
        mentions=mentions,
        raw={"data": data, "includes": includes or {}} if raw is None else raw,
    )


def parse_stream_message(message: dict[str, Any], source: str) -> NormalisedPost:
    """One filtered-stream message: ``{"data": {...}, "includes": {...}, "matching_rules": []}``."""
    data = message.get("data")
    if not isinstance(data, dict):
        raise PayloadError("stream message without a data object")
    return parse_post(data, message.get("includes"), source, raw=message)
