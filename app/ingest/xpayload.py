"""Pure parsing of X API v2 post payloads (filtered stream and recent search share the shape).

See ../shared/X_API.md: text arrives HTML-escaped (unescape once here, escape once at render);
long posts carry their full text in note_tweet.text; authors come in includes.users, joined by
author_id; ids are strings and stay strings.
"""

import html
import json
import re
from datetime import UTC, datetime
from typing import Any

from pydantic_core import from_json

from app.ingest.schemas import NormalisedPost

# Bidi overrides, embeddings and isolates, and invisible zero-width characters: they make a
# post read differently from what it says (a classic for spoofed names and links). Zero-width
# joiners and non-joiners stay: emoji sequences and Persian or Indic text need them. NUL goes
# too: it is no text anyone sees, and PostgreSQL cannot store it (db.py refuses it everywhere).
_INVISIBLE = dict.fromkeys(
    [*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x200B, 0x200E, 0x200F, 0x2060, 0xFEFF, 0]
)


# The same characters, to look for: str.translate looks every character up in a dict once the
# text is not ASCII (most posts' text is not), several times slower than a regex search that
# finds nothing, which is what almost every post gives.
_ANY_INVISIBLE = re.compile("[" + "".join(re.escape(chr(c)) for c in _INVISIBLE) + "]")


def clean_text(text: str) -> str:
    """Text as people should see it: invisible direction and width tricks (and NULs) removed."""
    if _ANY_INVISIBLE.search(text) is None:
        return text
    return text.translate(_INVISIBLE)


def load_json(text: str | bytes) -> Any:
    """A payload's JSON (a stream line, a recording's line), exactly as json.loads reads it.

    pydantic-core's parser reads a post's JSON in three fifths of json.loads's time, and gives
    the same values. What it refuses (malformed JSON, a lone surrogate escape that a Python
    string can hold but UTF-8 cannot, bytes that are not UTF-8) goes to json.loads, so the
    outcome, value or JSONDecodeError, is json.loads's.
    """
    try:
        return from_json(text)
    except ValueError:
        return json.loads(text)


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
    raw_json: str = "",
) -> NormalisedPost:
    """One post object (``data``) with the response's ``includes``; ``raw`` is what to keep
    of the payload (by default, the post and the includes), ``raw_json`` its JSON text if the
    caller has it (see NormalisedPost.raw_json)."""
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
        raw_json=raw_json,
    )


def parse_stream_message(
    message: dict[str, Any], source: str, raw_json: str = ""
) -> NormalisedPost:
    """One filtered-stream message: ``{"data": {...}, "includes": {...}, "matching_rules": []}``;
    ``raw_json``: the message's JSON text, when the caller read it from one."""
    data = message.get("data")
    if not isinstance(data, dict):
        raise PayloadError("stream message without a data object")
    return parse_post(data, message.get("includes"), source, raw=message, raw_json=raw_json)
