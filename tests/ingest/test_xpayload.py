"""Normalisation of X v2 payloads, from recorded fixtures (tests/fixtures/x)."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.ingest.xpayload import PayloadError, clean_text, load_json, parse_stream_message

FIXTURES = Path(__file__).parent.parent / "fixtures" / "x"


def load(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    return payload


def test_entities_are_unescaped_exactly_once() -> None:
    post = parse_stream_message(load("escaped_entities.json"), "x")
    assert post.text.startswith("Fees & charges: are rates > 3% or < 2%?")
    # What the author typed as "&amp;" arrives as "&amp;amp;" and must come out as "&amp;".
    assert "is &amp; shown literally" in post.text


def test_author_is_joined_from_includes_and_ids_stay_strings() -> None:
    post = parse_stream_message(load("escaped_entities.json"), "x")
    assert (post.author_id, post.author_handle, post.author_name) == (
        "42",
        "lea_dubois",
        "Léa Dubois",
    )
    assert post.author_avatar_url.endswith("lea_normal.jpg")
    assert post.external_id == "2128550000000000001"
    assert post.mentions == ("aurorabank",)
    assert post.lang == "en"
    assert post.posted_at == datetime(2026, 12, 3, 18, 0, 10, tzinfo=UTC)
    assert not post.is_retweet


def test_long_posts_take_the_note_tweet_text() -> None:
    post = parse_stream_message(load("note_tweet.json"), "x")
    assert not post.text.endswith("…")
    assert post.text.endswith("avant de signer <enfin> l'offre.")
    assert "prêt immo & mon assurance" in post.text


def test_retweets_are_recognised() -> None:
    post = parse_stream_message(load("retweet.json"), "x")
    assert post.is_retweet


def test_missing_includes_leave_the_author_blank_but_keep_the_post() -> None:
    post = parse_stream_message(load("no_includes.json"), "x")
    assert post.author_id == "45"
    assert post.author_handle == ""
    assert post.lang == ""


@pytest.mark.parametrize(
    "message",
    [
        {},
        {"data": "text"},
        {"data": {"id": "1", "text": "no author"}},
        {"data": {"id": "1", "author_id": "2", "text": "x", "created_at": "yesterday"}},
    ],
)
def test_malformed_messages_raise_a_payload_error(message: dict[str, Any]) -> None:
    with pytest.raises(PayloadError):
        parse_stream_message(message, "x")


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.json")))
def test_load_json_reads_what_json_loads_reads(name: str) -> None:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    assert load_json(text) == json.loads(text)
    assert load_json(text.encode()) == json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"text": "\\ud800 alone"}',  # a lone surrogate: a str holds it, UTF-8 cannot
        '{"n": [1e400, -0.0, 123456789012345678901234567890, NaN]}',
        '"\\ud83d\\ude00 \\u00e9"',
    ],
)
def test_load_json_gives_json_loads_values_where_parsers_differ(text: str) -> None:
    assert repr(load_json(text)) == repr(json.loads(text))


@pytest.mark.parametrize("text", ["{} x", "[1,]", "{'a': 1}", '"\t"', "\ufeff{}", ""])
def test_load_json_refuses_what_json_loads_refuses(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        load_json(text)


def test_clean_text_removes_only_invisible_tricks() -> None:
    assert clean_text("a\u202eb\u200bc\x00d\ufeff") == "abcd"
    # Joiners stay (emoji sequences, Persian and Indic text need them); other text is kept as is.
    kept = "«ça» — 👩\u200d💻 \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    assert clean_text(kept) == kept
