"""Storing posts once each and turning new ones into pending questions."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from app.events.models import LiveEvent
from app.ingest.models import X_SOURCE, IngestSource, Post
from app.ingest.schemas import IngestResult, NormalisedPost, SourceOut
from app.questions import service as questions
from app.questions.models import Origin
from app.questions.schemas import NewQuestion


def _insert_ignoring_duplicates(session: AsyncSession) -> Any:
    # Executed with a list of parameter sets ("insertmanyvalues"): one cached statement,
    # batched by SQLAlchemy, instead of a new many-VALUES statement compiled per batch.
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    return (
        insert(Post)
        .on_conflict_do_nothing(index_elements=["source", "external_id"])
        .returning(Post.id, Post.external_id)
    )


def becomes_question(post: NormalisedPost, live_event: LiveEvent) -> bool:
    """Retweets repeat someone else's words, and the answering account's own posts are the
    answers: neither is a question."""
    if post.is_retweet:
        return False
    handle = live_event.answering_handle.lower()
    return not (handle and post.author_handle.lower() == handle)


async def ingest_posts(
    session: AsyncSession, live_event: LiveEvent, posts: Sequence[NormalisedPost]
) -> IngestResult:
    """Store a batch of posts (duplicates skipped by the unique constraint) and create a
    pending question for each new one that is a question."""
    if not posts:
        return IngestResult(received=0, stored=0, questions=0, duplicates=0)
    # Within a batch too, the same post counts once.
    unique = list({(p.source, p.external_id): p for p in posts}.values())
    answering = live_event.answering_handle.lower()
    rows = [
        {
            "live_event_id": live_event.id,
            "source": p.source,
            "external_id": p.external_id,
            "author_id": p.author_id,
            "author_handle": p.author_handle,
            "author_name": p.author_name,
            "author_avatar_url": p.author_avatar_url,
            "text": p.text,
            "lang": p.lang,
            "posted_at": p.posted_at,
            "mentions_answering_account": bool(answering) and answering in p.mentions,
            "raw": p.raw,
        }
        for p in unique
    ]
    inserted = (await session.execute(_insert_ignoring_duplicates(session), rows)).all()
    new_ids = {external_id: post_id for post_id, external_id in inserted}
    new = []
    for post in unique:
        post_id = new_ids.get(post.external_id)
        if post_id is None or not becomes_question(post, live_event):
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
