"""Ingest's database plumbing: bulk inserts (with shared columns), the NUL check on every
statement's parameters, and what JSON columns store."""

import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

import pytest
from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.bulk import BulkInsert
from app.db import NulInText, _has_nul, _json_text, unit_of_work
from app.events import service as events
from app.events.schemas import LiveEventCreate
from app.ingest.models import Post
from tests.conftest import RecordingNotifier

INSERT = BulkInsert(
    cast(Table, Post.__table__),
    ["external_id", "author_id", "text", "posted_at", "raw"],
    shared=[
        "live_event_id",
        "source",
        "author_handle",
        "author_name",
        "author_avatar_url",
        "lang",
        "ingested_at",
        "mentions_answering_account",
    ],
    conflict=["source", "external_id"],
    returning=["id", "external_id"],
)
POSTED = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)
INGESTED = datetime(2026, 12, 3, 18, 0, 5, tzinfo=UTC)


async def show(session: AsyncSession) -> int:
    live_event = await events.create(
        session, LiveEventCreate(slug="bulk", title="Bulk", hashtag="AskBulk")
    )
    return live_event.id


def shared(live_event_id: int) -> dict[str, Any]:
    return {
        "live_event_id": live_event_id,
        "source": "x",
        "author_handle": "someone",
        "author_name": "Some One",
        "author_avatar_url": "",
        "lang": "en",
        "ingested_at": INGESTED,
        "mentions_answering_account": True,
    }


def rows(ids: list[str], text: str = "a question") -> dict[str, list[Any]]:
    return {
        "external_id": ids,
        "author_id": ["7"] * len(ids),
        "text": [f"{text} {i}" for i in ids],
        "posted_at": [POSTED] * len(ids),
        "raw": [{"data": {"id": i, "text": "«ça» 😀"}} for i in ids],
    }


async def test_shared_columns_are_stored_on_every_row(
    maker: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(maker, RecordingNotifier()) as session:
        live_event_id = await show(session)
        first = await INSERT.run(session, rows(["1", "2", "3"]), shared(live_event_id))
        # Duplicates are skipped by the unique constraint: only "4" is new.
        again = await INSERT.run(session, rows(["3", "4"]), shared(live_event_id))
    assert sorted(external_id for _, external_id in first) == ["1", "2", "3"]
    assert [external_id for _, external_id in again] == ["4"]
    async with maker() as session:
        posts = (await session.scalars(select(Post).order_by(Post.external_id))).all()
    assert [p.external_id for p in posts] == ["1", "2", "3", "4"]
    for post in posts:
        assert (post.live_event_id, post.source, post.author_handle, post.lang) == (
            live_event_id,
            "x",
            "someone",
            "en",
        )
        assert (post.ingested_at, post.posted_at) == (INGESTED, POSTED)
        assert post.mentions_answering_account is True
        assert post.text == f"a question {post.external_id}"
        assert post.raw == {"data": {"id": post.external_id, "text": "«ça» 😀"}}


async def test_shared_values_must_match_the_declared_columns(
    maker: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(maker, RecordingNotifier()) as session:
        live_event_id = await show(session)
        values = shared(live_event_id)
        del values["lang"]
        with pytest.raises(ValueError, match="shared values"):
            await INSERT.run(session, rows(["1"]), values)
    with pytest.raises(ValueError, match="either per row or shared"):
        BulkInsert(cast(Table, Post.__table__), ["text"], shared=["text"])


async def test_a_nul_in_a_bulk_insert_is_refused_on_every_backend(
    maker: async_sessionmaker[AsyncSession],
) -> None:
    async with unit_of_work(maker, RecordingNotifier()) as session:
        live_event_id = await show(session)
    for values, common in [
        (rows(["1", "2"], text="fine\x00"), shared(live_event_id)),
        (rows(["1", "2"]), {**shared(live_event_id), "author_name": "Some\x00One"}),
    ]:
        with pytest.raises(NulInText):
            async with unit_of_work(maker, RecordingNotifier()) as session:
                await INSERT.run(session, values, common)


class Kind(StrEnum):
    plain = "plain"
    nul = "n\x00l"


@pytest.mark.parametrize(
    "parameters",
    [
        "\x00",
        ("a", 1, "b\x00"),  # a statement's values
        {"a": 1, "b": "\x00"},
        [("a", 1), (2, None, "b\x00")],  # executemany's rows
        [{"a": "x"}, {"a": "y\x00"}],
        (["a", "b", "c\x00"], [1, 2, 3]),  # bulk.py's columns (PostgreSQL)
        (["a", 1, "b\x00"],),  # a column of strings and others
        ([None, "a\x00"],),
        (Kind.nul,),  # a str subclass
        [Kind.plain, "x", Kind.nul],
        ("x", ["y", {"k": ("z", "\x00")}]),  # nested deeper than drivers take
    ],
)
def test_has_nul_finds_a_nul_wherever_it_is(parameters: object) -> None:
    assert _has_nul(parameters)


@pytest.mark.parametrize(
    "parameters",
    [
        None,
        (),
        [],
        {},
        ("a", 1, None, 2.5, b"\x00", POSTED),  # bytes are not text
        [("a", 1), (2, None, "b")],
        (["a", "b"], [1, 2], [None, "c"], [Kind.plain]),
        {"a": ["b", ("c", {"d": "e"})]},
    ],
)
def test_has_nul_passes_text_without_one(parameters: object) -> None:
    assert not _has_nul(parameters)


@pytest.mark.parametrize(
    "value",
    [
        {"data": {"id": "1", "text": "«ça» — 😀 &amp; \x00"}, "n": [1, 2.5, None, True]},
        ["AskAurora", "été"],
        {"big": 2**70, "small": -(2**63), "float": 1e-7},
        {"surrogate": "\ud800"},  # json.loads makes one of "\\ud800"; UTF-8 cannot hold it
    ],
)
def test_json_columns_store_json_that_reads_back_the_same(value: Any) -> None:
    assert json.loads(_json_text(value)) == value
