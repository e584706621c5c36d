"""Answers to X, exactly once, through tweepy against the sandbox: faults at every step, the
summoned-reply rule, and long answers as threads."""

import asyncio
import contextlib
import itertools
import random
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twitter_text import parse_tweet

from app.accounts import service as accounts
from app.accounts.models import Role, User
from app.db import NullNotifier, unit_of_work
from app.errors import Conflict
from app.events import service as events
from app.events.schemas import LiveEventCreate
from app.ingest.service import ingest_posts
from app.ingest.xpayload import parse_stream_message
from app.publishing.models import Attempt, Delivery, DeliveryStatus, XMode
from app.publishing.worker import Crash, PublishingWorker
from app.questions import service as questions
from app.questions.models import Question
from app.questions.states import Action
from tests.x.conftest import ACCOUNT, Sandbox, message, x_settings

pytestmark = pytest.mark.usefixtures("sandbox")
numbers = itertools.count(1)


async def setup_show(maker: async_sessionmaker[AsyncSession]) -> None:
    async with unit_of_work(maker, NullNotifier()) as session:
        await events.create(
            session,
            LiveEventCreate(
                slug="ask-test", title="Ask", hashtag="AskTest", answering_handle=ACCOUNT
            ),
        )
        await accounts.create_user(session, "claire", "password-123", Role.spokesperson)


async def asked(
    maker: async_sessionmaker[AsyncSession],
    sandbox: Sandbox,
    *,
    mention: bool = True,
    text: str | None = None,
) -> int:
    """A post on (fake) X, ingested as Tribune would, then approved: its question's id."""
    msg = message(next(numbers), text, mention=mention)
    sandbox.publish([msg])
    async with unit_of_work(maker, NullNotifier()) as session:
        show = await events.get_by_slug(session, "ask-test")
        await ingest_posts(session, show, [parse_stream_message(msg, "x")])
        question = await session.scalar(select(Question).order_by(Question.id.desc()))
        assert question is not None
        speaker = await accounts.get_user(session, "claire")
        await questions.act(session, question.id, Action.approve, speaker)
        return question.id


async def answer(
    maker: async_sessionmaker[AsyncSession],
    question_id: int,
    text: str,
    mode: XMode | None = None,
) -> int:
    async with unit_of_work(maker, NullNotifier()) as session:
        speaker: User = await accounts.get_user(session, "claire")
        row = await questions.answer(session, question_id, text, speaker, mode, x_enabled=True)
        return row.id


async def deliveries(maker: async_sessionmaker[AsyncSession], answer_id: int) -> list[Delivery]:
    async with maker() as session:
        rows = await session.scalars(
            select(Delivery)
            .where(Delivery.answer_id == answer_id, Delivery.target == "x")
            .order_by(Delivery.part)
        )
        return list(rows)


async def drain(worker: PublishingWorker, maker: async_sessionmaker[AsyncSession]) -> None:
    """Run the worker until every X delivery is settled (its waits are scaled down)."""
    for _ in range(500):
        await worker.run_once()
        async with maker() as session:
            unsettled = await session.scalar(
                select(Delivery.id).where(
                    Delivery.target == "x",
                    Delivery.status.not_in([DeliveryStatus.published, DeliveryStatus.failed]),
                )
            )
        if unsettled is None:
            return
        await asyncio.sleep(0.01)
    async with maker() as session:
        stuck = (
            await session.scalars(
                select(Delivery).where(
                    Delivery.target == "x",
                    Delivery.status.not_in([DeliveryStatus.published, DeliveryStatus.failed]),
                )
            )
        ).all()
        trail = (
            await session.scalars(
                select(Attempt)
                .where(Attempt.delivery_id.in_([d.id for d in stuck]))
                .order_by(Attempt.id)
            )
        ).all()
    raise AssertionError(
        "deliveries never settled: "
        + "; ".join(f"#{d.id} part {d.part} {d.status} {d.last_error}" for d in stuck)
        + " | "
        + "; ".join(f"{a.action}:{a.outcome}:{a.detail}" for a in trail[-8:])
    )


def worker_for(
    maker: async_sessionmaker[AsyncSession], sandbox: Sandbox, **kwargs: Any
) -> PublishingWorker:
    # Only the X settings are read: the worker works on ``maker``'s database.
    settings = x_settings("sqlite+aiosqlite:///unused.db", sandbox)
    return PublishingWorker(
        maker,
        NullNotifier(),
        settings.x_credentials(),
        settings.x_api_base_url,
        **{"backoff_scale": 0.001, "timeout": (2.0, 0.3), **kwargs},
    )


FAULT_POINTS = ["before_send", "after_send", "before_commit", "timeout", "server_error"]


async def test_exactly_once_with_faults_at_every_step(
    maker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    await setup_show(maker)
    rng = random.Random(7)
    runs = 100
    for run in range(runs):
        point = FAULT_POINTS[run % len(FAULT_POINTS)]
        question_id = await asked(maker, sandbox)
        words = rng.randint(5, 90)
        text = (
            f"Run {run}: "
            + " ".join(
                rng.choice(["fees", "cards", "rates", "app", "branch", "savings"])
                for _ in range(words)
            )
            + "."
        )
        answer_id = await answer(maker, question_id, text)
        parts = await deliveries(maker, answer_id)
        failing_part = rng.randint(1, len(parts))
        calls = itertools.count(1)
        crashed = False

        def fault(
            at: str, point: str = point, failing_part: int = failing_part, calls: Any = calls
        ) -> None:
            nonlocal crashed
            if at == point and not crashed and next(calls) == failing_part:
                crashed = True
                raise Crash(at)

        if point == "timeout":
            sandbox.control("faults", {"endpoint": "tweets", "accept_then_hang": 0.8})
        if point == "server_error":
            sandbox.control("faults", {"endpoint": "tweets", "statuses": [503]})
        # Its claims lapse at once: the next worker need not wait out a dead one's timeouts.
        first = worker_for(maker, sandbox, faults=fault, claim_seconds=0.0)
        with contextlib.suppress(Crash):  # the worker "died"; a new one takes over
            await drain(first, maker)
        await drain(worker_for(maker, sandbox), maker)
        rows = await deliveries(maker, answer_id)
        assert [r.status for r in rows] == [DeliveryStatus.published] * len(rows), (run, point)
        created = sandbox.created()
        for row in rows:
            same = [p for p in created if p["text"] == row.text]
            assert len(same) == 1, (run, point, row.part, len(same))
            assert same[0]["id"] == row.external_id
    expected = 0
    for answer_id in range(1, runs + 1):
        expected += len(await deliveries(maker, answer_id))
    assert len(sandbox.created()) == expected, "not one post more than the parts"
    # A 429 waits for X's reset, then the post goes out once.
    question_id = await asked(maker, sandbox)
    sandbox.control("faults", {"endpoint": "tweets", "statuses": [429]})
    answer_id = await answer(maker, question_id, "After the rate limit.")
    await drain(worker_for(maker, sandbox), maker)
    (row,) = await deliveries(maker, answer_id)
    assert row.status == DeliveryStatus.published
    assert [p["text"] for p in sandbox.created()].count("After the rate limit.") == 1
    async with maker() as session:
        outcomes = (
            await session.scalars(select(Attempt.outcome).where(Attempt.delivery_id == row.id))
        ).all()
    assert "rate_limited" in outcomes


async def test_a_send_in_flight_is_left_to_its_claimant(
    maker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    """While one worker waits for X's slow answer, another leaves the delivery alone: a search
    made in mid-flight can miss the post and send it a second time."""
    await setup_show(maker)
    answer_id = await answer(maker, await asked(maker, sandbox), "Yes, from Monday.")
    sandbox.control("faults", {"endpoint": "tweets", "accept_then_hang": 0.8})
    slow = asyncio.create_task(worker_for(maker, sandbox, timeout=(2.0, 5.0)).run_once())
    other = worker_for(maker, sandbox)
    for _ in range(10):
        await asyncio.sleep(0.05)
        await other.run_once()
    await slow
    (row,) = await deliveries(maker, answer_id)
    assert row.status == DeliveryStatus.published
    async with maker() as session:
        actions = (
            await session.execute(
                select(Attempt.action, Attempt.outcome)
                .where(Attempt.delivery_id == row.id)
                .order_by(Attempt.id)
            )
        ).all()
    assert [tuple(a) for a in actions] == [("send", "started"), ("send", "published")]


async def test_a_700_character_answer_with_two_urls_is_a_thread(
    maker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    await setup_show(maker)
    question_id = await asked(maker, sandbox)
    sentence = (
        "Our fees page lists every charge in plain words, and the comparison table shows "
        "how they moved this year. "
    )
    text = (
        sentence * 2
        + "Details: https://aurora.example/fees/2027/complete-list-of-charges "
        + sentence * 2
        + "Compare: https://aurora.example/compare?year=2027&product=all "
        + sentence
    )
    text += sentence
    assert len(text) >= 700
    answer_id = await answer(maker, question_id, text)
    await drain(worker_for(maker, sandbox), maker)
    rows = await deliveries(maker, answer_id)
    assert len(rows) >= 3
    created = {p["id"]: p for p in sandbox.created()}
    async with maker() as session:
        question = await session.get(Question, question_id)
        assert question is not None
        previous = question.x_post_id
    for number, row in enumerate(rows, start=1):
        assert row.text.endswith(f"({number}/{len(rows)})")
        assert parse_tweet(row.text).weightedLength <= 280
        post = created[row.external_id]
        assert post["in_reply_to_tweet_id"] == previous, "each part replies to the previous"
        previous = row.external_id
    assert sum("https://aurora.example" in r.text for r in rows) == 2


async def test_the_summoned_rule(maker: async_sessionmaker[AsyncSession], sandbox: Sandbox) -> None:
    await setup_show(maker)
    silent = await asked(
        maker, sandbox, mention=False, text="Do you answer without a mention #AskTest"
    )
    async with maker() as session:
        view = await questions.question_view(session, await questions.get(session, silent))
    assert view.x_options == [XMode.standalone, XMode.page]
    with pytest.raises(Conflict, match="mentioned it"):
        await answer(maker, silent, "We do.", XMode.reply)
    assert sandbox.created() == [], "a forbidden reply is never attempted"
    # The default for a non-summoning asker is the LiveEvent's fallback: a standalone post.
    answer_id = await answer(maker, silent, "We do, here.")
    await drain(worker_for(maker, sandbox), maker)
    (row,) = await deliveries(maker, answer_id)
    posted = sandbox.created()[-1]
    assert posted["in_reply_to_tweet_id"] in (None, "")
    assert posted["text"].startswith("@asker")
    assert "asked: “Do you answer without a mention" in posted["text"]

    # X refuses a reply Tribune thought allowed: the moderator sees why and what else to do.
    other = await asked(maker, sandbox, mention=False, text="Tricky #AskTest")
    async with unit_of_work(maker, NullNotifier()) as session:
        question = await questions.get(session, other)
        question.x_reply_allowed = True
    answer_id = await answer(maker, other, "Refused.", XMode.reply)
    await drain(worker_for(maker, sandbox), maker)
    (row,) = await deliveries(maker, answer_id)
    assert row.status == DeliveryStatus.failed
    assert "did not mention @AuroraBank" in row.last_error
    assert "standalone post" in row.last_error
    async with maker() as session:
        view = await questions.question_view(session, await questions.get(session, other))
    assert view.answer is not None
    x_delivery = next(d for d in view.answer.deliveries if d.target == "x")
    assert x_delivery.status == DeliveryStatus.failed
    assert "did not mention" in x_delivery.error
