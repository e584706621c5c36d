"""One answer for a merged group: a reply thread to each asker X lets us reply to, and to none
of the others, each post exactly once however many workers run; against the sandbox X API."""

import asyncio
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from twitter_text import parse_tweet

from app.accounts import service as accounts
from app.db import NullNotifier, unit_of_work
from app.events import service as events
from app.ingest.service import ingest_posts
from app.ingest.xpayload import parse_stream_message
from app.publishing import service as publishing
from app.publishing.models import Delivery, DeliveryStatus
from app.questions import service as questions
from app.questions.models import Answer, Question
from app.questions.states import Action, Status
from tests.x.conftest import BASE_ID, Sandbox, message
from tests.x.test_publishing import drain, setup_show, worker_for

# Long enough to be a thread of two posts, for the main asker and for each merged one.
ANSWER = (
    "Yes: the new card has no yearly fee for the first two years, and after that it costs "
    "the same as the classic card, which we are not changing this year. Cards ordered this "
    "week arrive within five working days; if yours does not, the branch team can print one "
    "while you wait, and the app shows where your order is. Thank you all for asking!"
)


async def posted(
    maker: async_sessionmaker[AsyncSession], sandbox: Sandbox, number: int, *, mention: bool
) -> int:
    """Post ``number`` on the sandbox X (authors repeat every 97 numbers), ingested and
    approved as Tribune would: its question's id."""
    msg = message(number, f"Is the new card free? ({number}) #AskTest", mention=mention)
    sandbox.publish([msg])
    async with unit_of_work(maker, NullNotifier()) as session:
        show = await events.get_by_slug(session, "ask-test")
        await ingest_posts(session, show, [parse_stream_message(msg, "x")])
        question_id = await session.scalar(
            select(Question.id).where(Question.x_post_id == str(BASE_ID + number))
        )
        assert question_id is not None
        await questions.act(
            session, question_id, Action.approve, await accounts.get_user(session, "claire")
        )
        return question_id


async def test_a_merged_group_is_answered_once_with_a_reply_to_each_asker_x_allows(
    maker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    await setup_show(maker)
    main = await posted(maker, sandbox, 1, mention=True)
    summoned = await posted(maker, sandbox, 2, mention=True)
    # Same author as post 2, asking again: one person, one reply.
    again = await posted(maker, sandbox, 2 + 97, mention=True)
    silent = await posted(maker, sandbox, 3, mention=False)
    async with unit_of_work(maker, NullNotifier()) as session:
        show = await events.get_by_slug(session, "ask-test")
        page_asker = (await questions.ask(session, show, "Is the new card free?", "Nora")).id
        claire = await accounts.get_user(session, "claire")
        await questions.merge(session, main, [summoned, again, silent, page_asker], claire)
        await questions.act(session, main, Action.on_air, claire)
    # The composer's preview: one reply besides the main one, and what it costs.
    async with maker() as session:
        question = await questions.get(session, main)
        askers = await questions.askers_of(session, question)
        show = await events.get_by_slug(session, "ask-test")
        preview = publishing.preview(question, show, ANSWER, None, True, askers)
    assert preview.asker_replies is not None
    assert (preview.asker_replies.askers, preview.asker_replies.replies) == (4, 1)
    assert preview.asker_replies.posts == 2
    # A summoned reply, then the thread's second post (a created post).
    assert preview.asker_replies.usd == Decimal("0.025")

    async with unit_of_work(maker, NullNotifier()) as session:
        claire = await accounts.get_user(session, "claire")
        answer = await questions.answer(session, main, ANSWER, claire, x_enabled=True)
        answer_id = answer.id
    # Two workers at once, then one more pass: every post still goes out once.
    await asyncio.gather(
        drain(worker_for(maker, sandbox), maker), drain(worker_for(maker, sandbox), maker)
    )
    await drain(worker_for(maker, sandbox), maker)

    async with maker() as session:
        assert await session.scalar(select(func.count()).select_from(Answer)) == 1
        rows = (
            await session.scalars(
                select(Delivery)
                .where(Delivery.answer_id == answer_id, Delivery.target == "x")
                .order_by(Delivery.question_id, Delivery.part)
            )
        ).all()
        snapshot = await questions.public_snapshot(session, show)
        spend = await publishing.live_event_spend(session, show)
    assert {r.question_id for r in rows} == {main, summoned}
    assert all(r.status == DeliveryStatus.published for r in rows)
    created = sandbox.created()
    assert len(created) == len(rows) == 4, "one thread per asker replied to, nothing more"
    by_id = {p["id"]: p for p in created}
    roots = {p["in_reply_to_tweet_id"] for p in created}
    # Replies to the main asker's post and the summoning asker's, never to the silent one's
    # (X forbids it) nor the same person's second post; parts 2 reply to parts 1.
    threads = {main: str(BASE_ID + 1), summoned: str(BASE_ID + 2)}
    for question_id, asked_post in threads.items():
        first, second = [r for r in rows if r.question_id == question_id]
        assert by_id[first.external_id]["in_reply_to_tweet_id"] == asked_post
        assert by_id[second.external_id]["in_reply_to_tweet_id"] == first.external_id
        assert all(parse_tweet(r.text).weightedLength <= 280 for r in (first, second))
    # Nothing replies to the silent asker's post, nor to the same person's second post.
    assert str(BASE_ID + 3) not in roots
    assert str(BASE_ID + 2 + 97) not in roots
    # The merged asker's thread is addressed to them (and so is not "duplicate content").
    assert all(r.text.startswith("@asker2 ") for r in rows if r.question_id == summoned)
    # Spend so far: one answer in two threads, each a summoned reply and a created post.
    assert (spend.answers, spend.posts_created) == (1, 4)
    assert spend.create_usd == Decimal("0.050")
    # The public page: the answer once, with the count of people who asked.
    (item,) = snapshot.answered
    assert (item.id, item.asked_by) == (main, 5)
    assert item.answer is not None
    assert item.answer.text == ANSWER
    async with maker() as session:
        statuses = (
            await session.scalars(
                select(Question.status).where(Question.id.in_([summoned, again, silent]))
            )
        ).all()
    assert set(statuses) == {Status.merged}


async def test_no_replies_to_askers_when_the_spokesperson_says_so(
    maker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    await setup_show(maker)
    main = await posted(maker, sandbox, 1, mention=True)
    summoned = await posted(maker, sandbox, 2, mention=True)
    async with unit_of_work(maker, NullNotifier()) as session:
        claire = await accounts.get_user(session, "claire")
        await questions.merge(session, main, [summoned], claire)
        await questions.answer(
            session, main, "No fee.", claire, x_enabled=True, reply_to_askers=False
        )
    await drain(worker_for(maker, sandbox), maker)
    assert [p["in_reply_to_tweet_id"] for p in sandbox.created()] == [str(BASE_ID + 1)]
