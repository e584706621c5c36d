"""Storing posts once each and turning new ones into pending questions."""

from collections.abc import Sequence
from typing import cast

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.bulk import BulkInsert
from app.db import EncodedJSON, utcnow
from app.events.models import LiveEvent
from app.ingest.models import X_SOURCE, IngestSource, Post
from app.ingest.schemas import IngestResult, NormalisedPost, SourceOut
from app.questions import service as questions
from app.questions.models import Origin
from app.questions.schemas import NewQuestion

# Posts go in as plain rows, one statement a batch, duplicates skipped by the unique constraint;
# RETURNING says which were new, and their ids.
_INSERT_POSTS = BulkInsert(
    cast(Table, Post.__table__),
    [
        "source",
        "external_id",
        "author_id",
        "author_handle",
        "author_name",
        "author_avatar_url",
        "text",
        "lang",
        "posted_at",
        "mentions_answering_account",
        "raw",
    ],
    shared=["live_event_id", "ingested_at"],
    conflict=["source", "external_id"],
    returning=["id", "external_id"],
)


def becomes_question(post: NormalisedPost, live_event: LiveEvent) -> bool:
    """Retweets repeat someone else's words, and the answering account's own posts are the
    answers: neither is a question."""
    return _becomes_question(post, live_event.answering_handle.lower())


def _becomes_question(post: NormalisedPost, answering: str) -> bool:
    """``becomes_question`` with the answering handle already lowered (once per batch)."""
    if post.is_retweet:
        return False
    return not (answering and post.author_handle.lower() == answering)


async def ingest_posts(
    session: AsyncSession, live_event: LiveEvent, posts: Sequence[NormalisedPost]
) -> IngestResult:
    """Store a batch of posts (duplicates skipped by the unique constraint) and create a
    pending question for each new one that is a question.

    Three statements whatever the batch's size: the posts, their questions, their updates.
    """
    if not posts:
        return IngestResult(received=0, stored=0, questions=0, duplicates=0)
    # Within a batch too, the same post counts once: its first copy, as the unique constraint
    # keeps the first across batches (so merging queued batches into one changes nothing).
    unique: dict[tuple[str, str], NormalisedPost] = {}
    for p in posts:
        unique.setdefault((p.source, p.external_id), p)
    answering = live_event.answering_handle.lower()
    batch = list(unique.values())
    columns = _INSERT_POSTS.columns_of(
        batch,
        mentions_answering_account=[bool(answering) and answering in p.mentions for p in batch],
        raw=[EncodedJSON(p.raw_json) if p.raw_json else p.raw for p in batch],
    )
    # One ingested_at a transaction (bench/ingest.py reads the transactions from it).
    shared = {"live_event_id": live_event.id, "ingested_at": utcnow()}
    inserted = await _INSERT_POSTS.run(session, columns, shared)
    new_ids = {external_id: post_id for post_id, external_id in inserted}
    new = []
    for post in batch:
        post_id = new_ids.get(post.external_id)
        if post_id is None or not _becomes_question(post, answering):
            continue
        on_x = post.source == X_SOURCE
        conversation = str(post.raw.get("data", {}).get("conversation_id", "")) if on_x else ""
        new.append(
            NewQuestion(
                origin=Origin.post,
                source=post.source,
                text=post.text,
                author_name=post.author_name,
                author_handle=post.author_handle,
                lang=post.lang,
                post_id=post_id,
                # Only a post that is really on X can be replied to there (not a replay's).
                x_post_id=post.external_id if on_x else "",
                x_conversation_id=conversation,
                x_reply_allowed=on_x and bool(answering) and answering in post.mentions,
            )
        )
    created = len(await questions.create_many(session, live_event, new))
    return IngestResult(
        received=len(posts),
        stored=len(new_ids),
        questions=created,
        duplicates=len(posts) - len(new_ids),
    )


async def sources_of(session: AsyncSession, live_event: LiveEvent) -> list[SourceOut]:
    """The LiveEvent's sources and their state, with the rule or query each one uses."""
    rows = await session.scalars(
        select(IngestSource)
        .where(IngestSource.live_event_id == live_event.id)
        .order_by(IngestSource.id)
    )
    return [source_view(row) for row in rows]


def source_view(row: IngestSource) -> SourceOut:
    view = SourceOut.model_validate(row)
    view.rule = (row.config or {}).get("rule") or (row.config or {}).get("query")
    return view


async def get_source(session: AsyncSession, source_id: int) -> IngestSource | None:
    return await session.get(IngestSource, source_id)


async def enabled_sources(session: AsyncSession) -> Sequence[IngestSource]:
    rows = await session.scalars(select(IngestSource).where(IngestSource.enabled.is_(True)))
    return rows.all()
