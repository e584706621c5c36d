"""Storing posts once each and turning new ones into pending questions."""

import asyncio
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


class BatchAbandoned(RuntimeError):
    """The batch before this one failed: this one must not commit (its cursor would skip the
    other's posts). Both are read again from the last committed cursor."""


class InFlight:
    """One ingest batch's transaction, while the next batch's may already be at work (on
    PostgreSQL, runner.play runs a few side by side: while one waits for the database, the
    next one's Python work runs). The later transaction waits for the earlier one twice:

    - before it inserts its posts, until the earlier one has inserted its own. A post in both
      then waits, in the later transaction, for the earlier one to commit (the unique
      constraint), and is skipped: never the reverse, a deadlock the database could not see,
      as the later transaction waits for the earlier one here, in Python;
    - before it takes its seqs (or commits, if it has no update), until the earlier one has
      committed (``turn``). So updates commit in seq order, as the LiveEvent's row lock would
      have them anyway; a batch never commits after an earlier one failed; and at most one
      ingest transaction holds or waits for the LiveEvent's lock, so a moderator's change
      waits for the end of one batch at most, as with one transaction at a time.
    """

    def __init__(self, before: "InFlight | None" = None) -> None:
        self._before = before
        self._posts_stored = asyncio.Event()
        self._ended = asyncio.Event()
        self._committed = False

    async def posts_turn(self) -> None:
        if self._before is not None:
            await self._before._posts_stored.wait()

    def posts_stored(self) -> None:
        self._posts_stored.set()

    async def turn(self) -> None:
        """Until the batch before has committed; BatchAbandoned if it did not."""
        before = self._before
        if before is None:
            return
        await before._ended.wait()
        if not before._committed:
            raise BatchAbandoned("the batch before this one was not stored")
        self._before = None  # let it go: batches in a row do not keep each other alive

    def end(self, *, committed: bool) -> None:
        self._committed = committed
        self._posts_stored.set()
        self._ended.set()


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
    session: AsyncSession,
    live_event: LiveEvent,
    posts: Sequence[NormalisedPost],
    in_flight: InFlight | None = None,
) -> IngestResult:
    """Store a batch of posts (duplicates skipped by the unique constraint) and create a
    pending question for each new one that is a question.

    Three statements whatever the batch's size: the posts, their questions, their updates.
    ``in_flight``: where the batch's transaction waits for the one before (InFlight); the
    caller awaits its ``turn`` before committing.
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
    if in_flight is not None:
        await in_flight.posts_turn()
    inserted = await _INSERT_POSTS.run(session, columns, shared)
    if in_flight is not None:
        in_flight.posts_stored()
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
    await asyncio.sleep(0)  # the event loop's other work goes first (emit_many's comment)
    turn = in_flight.turn if in_flight is not None else None
    created = len(await questions.create_many(session, live_event, new, after=turn))
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
