"""The private follow-up to a complaint's asker: proposed from the LiveEvent's template, sent
as an X reply through the outbox (tweepy against the fake X API) where X allows it, copied by
hand where it does not, and never shown as the question's answer."""

import itertools
import json

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.accounts import service as accounts
from app.accounts.models import Role
from app.charter import service as charter
from app.charter.schemas import CharterIn
from app.complaints import service as complaints
from app.complaints.models import CaseChange
from app.complaints.schemas import FollowupIn
from app.db import NullNotifier, unit_of_work
from app.errors import Conflict
from app.events import service as events
from app.events.schemas import LiveEventCreate
from app.ingest.service import ingest_posts
from app.ingest.xpayload import parse_stream_message
from app.publishing.spend import PRICE_SUMMONED_REPLY
from app.questions import service as questions
from app.questions.models import Category, Question
from app.questions.schemas import QuestionEdit
from app.realtime.models import Update
from tests.x.conftest import ACCOUNT, BASE_ID, Sandbox, message
from tests.x.test_publishing import drain, worker_for

numbers = itertools.count(1)


async def setup_show(maker: async_sessionmaker[AsyncSession]) -> None:
    async with unit_of_work(maker, NullNotifier()) as session:
        show = await events.create(
            session,
            LiveEventCreate(
                slug="ask-test", title="Ask", hashtag="AskTest", answering_handle=ACCOUNT
            ),
        )
        await accounts.create_user(session, "mo", "password-123", Role.moderator)
        # The follow-up's templates and signature are the charter's (its default templates).
        admin = await accounts.create_user(session, "op", "password-123", Role.admin)
        await charter.save(session, show, CharterIn(signature="^MO"), admin)


async def complained(
    maker: async_sessionmaker[AsyncSession], sandbox: Sandbox, *, mention: bool
) -> tuple[int, str]:
    """A complaint posted on (fake) X, ingested, and categorised: its question's id and post."""
    number = next(numbers)
    msg = message(number, "My card was charged twice, fix it #AskTest", mention=mention)
    sandbox.publish([msg])
    async with unit_of_work(maker, NullNotifier()) as session:
        show = await events.get_by_slug(session, "ask-test")
        await ingest_posts(session, show, [parse_stream_message(msg, "x")])
        question = await session.scalar(select(Question).order_by(Question.id.desc()))
        assert question is not None
        mo = await accounts.get_user(session, "mo")
        await questions.edit(session, question.id, QuestionEdit(category=Category.complaint), mo)
        return question.id, str(BASE_ID + number)


async def send(
    maker: async_sessionmaker[AsyncSession], question_id: int, text: str, via: str, **kw: bool
) -> None:
    async with unit_of_work(maker, NullNotifier()) as session:
        mo = await accounts.get_user(session, "mo")
        await complaints.send_followup(
            session,
            question_id,
            FollowupIn(text=text, via=via, override=kw.get("override", False)),
            mo,
            x_enabled=True,
        )


async def test_followup_is_an_x_reply_where_x_allows_it(
    maker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    await setup_show(maker)
    question_id, post_id = await complained(maker, sandbox, mention=True)
    async with maker() as session:
        proposal = await complaints.propose_followup(session, question_id, x_enabled=True)
    asker = proposal.text.split()[0]
    assert asker.startswith("@asker")
    assert proposal.text == (
        f"{asker} We are sorry about this. Send us your customer reference by private message "
        "and we will look into it today. ^MO"
    )
    # The charter's other complaint follow-up templates, filled in, to pick from.
    assert [t.name for t in proposal.templates][1:] == ["Réclamation : votre référence en MP"]
    assert proposal.templates[1].text.startswith(f"{asker} Nous sommes désolés.")
    assert proposal.can_reply
    assert proposal.problems == []
    # What it costs: one summoned reply; a URL would make it a post with a URL, priced as such.
    assert proposal.spend is not None
    assert (len(proposal.spend.posts), proposal.spend.usd) == (1, PRICE_SUMMONED_REPLY)
    async with maker() as session:
        row = await questions.get(session, question_id)
        linked = await complaints.check_for(
            session, row, "Sorry! Details: https://help.aurora-bank.com ^MO", x_enabled=True
        )
    assert linked.spend is not None
    assert linked.spend.url_posts == 1

    await send(maker, question_id, proposal.text, "x_reply")
    await drain(worker_for(maker, sandbox), maker)
    (reply,) = sandbox.created()
    assert reply["text"] == proposal.text
    assert reply["in_reply_to_tweet_id"] == post_id

    async with maker() as session:
        case = await complaints.case_view(session, question_id)
        question = await questions.question_view(session, await questions.get(session, question_id))
    assert case.status == "waiting_customer"
    assert case.first_response_at is not None
    (followup,) = case.followups
    assert (followup.via, followup.by, followup.text) == ("x_reply", "mo", proposal.text)
    assert [d.status for d in followup.deliveries] == ["published"]
    assert followup.deliveries[0].url.endswith(reply["id"])
    # A private follow-up, not the question's answer: no screen shows it as one.
    assert question.answer is None
    # The worker told the desks how the reply went (the moderation channel only).
    async with maker() as session:
        last = await session.scalar(
            select(Update).where(Update.kind == "case").order_by(Update.seq.desc()).limit(1)
        )
    assert last is not None
    assert (last.presenter, last.public) == (None, None)
    shown = json.loads(last.moderation)["case"]["followups"][0]["deliveries"]
    assert [d["status"] for d in shown] == ["published"]


async def test_followup_is_copied_where_x_forbids_a_reply(
    maker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    await setup_show(maker)
    question_id, _ = await complained(maker, sandbox, mention=False)
    async with maker() as session:
        proposal = await complaints.propose_followup(session, question_id, x_enabled=True)
    assert not proposal.can_reply
    assert "mentioned" in proposal.reply_blocked_because
    with pytest.raises(Conflict, match="cannot reply on X"):
        await send(maker, question_id, proposal.text, "x_reply")
    await send(maker, question_id, proposal.text, "copied")
    await drain(worker_for(maker, sandbox), maker)
    assert sandbox.created() == [], "nothing was posted on X"
    async with maker() as session:
        case = await complaints.case_view(session, question_id)
    assert [(f.via, f.deliveries) for f in case.followups] == [("copied", [])]
    assert case.first_response_at is not None


async def test_a_follow_up_breaking_a_hard_rule_needs_an_override_which_is_kept(
    maker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    await setup_show(maker)
    question_id, _ = await complained(maker, sandbox, mention=True)
    with pytest.raises(Conflict, match="unfilled placeholder"):
        await send(maker, question_id, "Sorry {asker}, DM us. ^MO", "x_reply")
    async with maker() as session:
        show = await events.get_by_slug(session, "ask-test")
        asker = await questions.get(session, question_id)
        missing = await complaints.check_followup(session, show, asker, "Sorry, DM us.", "x")
    # The charter's signature rule, hard by default.
    assert [(p.rule, p.hard) for p in missing] == [("signature", True)]
    await send(maker, question_id, "Sorry {asker}, DM us. ^MO", "copied", override=True)
    async with maker() as session:
        trail = (await session.scalars(select(CaseChange).order_by(CaseChange.id))).all()
    assert [(c.action, c.actor_name) for c in trail] == [
        ("override", "mo"),
        ("followup_copied", "mo"),
        ("status", "mo"),
    ]
    assert "unfilled placeholder {asker}" in trail[0].after


async def test_a_follow_up_is_held_to_the_editorial_charter(
    maker: async_sessionmaker[AsyncSession], sandbox: Sandbox
) -> None:
    """The desk's check is the charter's: a word the charter forbids blocks a follow-up too."""
    await setup_show(maker)
    question_id, _ = await complained(maker, sandbox, mention=True)
    async with unit_of_work(maker, NullNotifier()) as session:
        show = await events.get_by_slug(session, "ask-test")
        admin = await accounts.get_user(session, "op")
        await charter.save(
            session, show, CharterIn(forbidden_words=["compensation"], signature="^MO"), admin
        )
    async with maker() as session:
        show = await events.get_by_slug(session, "ask-test")
        asker = await questions.get(session, question_id)
        problems = await complaints.check_followup(
            session, show, asker, "Sorry. We offer compensation, DM us. ^MO", "x"
        )
    assert ("forbidden_word", True) in [(p.rule, p.hard) for p in problems]
    with pytest.raises(Conflict, match="compensation"):
        await send(maker, question_id, "Sorry. We offer compensation, DM us. ^MO", "x_reply")
