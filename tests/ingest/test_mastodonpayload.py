"""Normalisation of Mastodon statuses, from recorded fixtures (tests/fixtures/mastodon)."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.ingest.mastodonpayload import HANDLE_MAX, is_status, parse_status
from app.ingest.xpayload import PayloadError

FIXTURES = Path(__file__).parent.parent / "fixtures" / "mastodon"
X_FIXTURES = Path(__file__).parent.parent / "fixtures" / "x"

STATUS_TEXT = (
    "@AuroraBank Is the fee schedule at aurora.example/fr/tarifs/parti… final? "
    "Rates > 3% & <b>no</b> cap?\n"
    "\n"
    "Merci ! #AskAurora\n"
    "— Inès"
)


def load(name: str, folder: Path = FIXTURES) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((folder / name).read_text(encoding="utf-8"))
    return payload


def test_a_status_is_read_as_text_with_its_author() -> None:
    post = parse_status(load("status.json"), "mastodon")
    assert post.text == STATUS_TEXT
    assert (post.external_id, post.author_id) == ("113623091842756301", "109348201774532110")
    # acct, so a remote author reads as remote; the isolates in the name are gone.
    assert (post.author_handle, post.author_name) == ("ines_morel@piaille.fr", "Inès Morel")
    assert post.author_avatar_url.endswith("/ines.png")
    assert post.mentions == ("aurorabank@banque.social",)
    assert post.lang == "fr"
    assert post.posted_at == datetime(2026, 12, 3, 18, 1, 12, tzinfo=UTC)
    assert not post.is_retweet
    assert post.raw == load("status.json")


def test_a_boost_is_a_retweet_with_the_boosted_text() -> None:
    post = parse_status(load("boost.json"), "mastodon")
    assert post.is_retweet
    assert post.text == STATUS_TEXT
    assert (post.author_handle, post.lang) == ("tomvdb", "")


def test_statuses_and_x_messages_are_told_apart() -> None:
    assert is_status(load("status.json"))
    assert not is_status(load("escaped_entities.json", X_FIXTURES))


@pytest.mark.parametrize(
    "change",
    [
        {"account": None},
        {"account": {"id": "1", "display_name": "No acct"}},
        {"content": None},
        {"account": {"id": "1", "acct": "a" * (HANDLE_MAX + 1), "display_name": "Long"}},
        {"created_at": "yesterday"},
    ],
    ids=["no account", "no acct", "no content", "handle too long", "bad time"],
)
def test_a_malformed_status_is_a_payload_error(change: dict[str, Any]) -> None:
    status = load("status.json") | change
    with pytest.raises(PayloadError):
        parse_status(status, "mastodon")
