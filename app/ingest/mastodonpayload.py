"""Pure parsing of Mastodon status entities (what the REST timelines and the streaming API's
``update`` events carry), for the replay now and the Mastodon source later.

A status's ``content`` is HTML: it becomes text once here (``html_to_text``), never rendered.
Ids are strings and stay strings; ``acct`` (``user`` or ``user@server``) is the handle, as
Mastodon's client guidelines ask, so a remote author is visibly remote.
"""

from datetime import UTC, datetime
from typing import Any

from app.ingest.htmltext import html_to_text
from app.ingest.schemas import NormalisedPost
from app.ingest.xpayload import PayloadError, clean_text, parse_time

# The posts table's widths (app/ingest/models.py). Any server can federate, so these are not
# guaranteed: a post that cannot be stored whole is skipped rather than fail its whole batch.
# A handle is never cut (two long handles would read the same); a display name may be.
ID_MAX = 64
HANDLE_MAX = 64
NAME_MAX = 120
AVATAR_URL_MAX = 500


def is_status(message: dict[str, Any]) -> bool:
    """Whether a recorded line is a Mastodon status (X's stream messages wrap theirs in data)."""
    return "content" in message and "account" in message


def parse_status(status: dict[str, Any], source: str) -> NormalisedPost:
    """One status entity. A boost is kept as a retweet is: with the boosted post's text."""
    try:
        status_id = str(status["id"])
        account = status["account"]
        author_id = str(account["id"])
        handle = account["acct"]
    except (KeyError, TypeError) as exc:
        raise PayloadError(f"status without id or account: {exc}") from exc
    reblog = status.get("reblog")
    shown = reblog if isinstance(reblog, dict) else status
    content = shown.get("content")
    if not isinstance(handle, str) or not isinstance(content, str):
        raise PayloadError("status acct or content is not a string")
    handle = clean_text(handle)
    if len(status_id) > ID_MAX or len(author_id) > ID_MAX or len(handle) > HANDLE_MAX:
        raise PayloadError(f"status id or handle longer than Tribune stores: {handle[:80]!r}")
    avatar = str(account.get("avatar_static") or account.get("avatar") or "")
    mentions = tuple(
        str(m.get("acct", "")).lower() for m in shown.get("mentions") or [] if isinstance(m, dict)
    )
    created = status.get("created_at")
    return NormalisedPost(
        source=source,
        external_id=status_id,
        author_id=author_id,
        author_handle=handle,
        # display_name is plain text (custom emoji stay as :shortcodes:), not HTML.
        author_name=clean_text(str(account.get("display_name") or ""))[:NAME_MAX],
        author_avatar_url=avatar if len(avatar) <= AVATAR_URL_MAX else "",
        text=html_to_text(content),
        lang=str(status.get("language") or ""),
        posted_at=parse_time(created) if isinstance(created, str) else datetime.now(UTC),
        is_retweet=isinstance(reblog, dict),
        mentions=mentions,
        raw=status,
    )
