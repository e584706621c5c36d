"""The operator's estimate of X spend: per post, per answer, per LiveEvent."""

from decimal import Decimal

import pytest
from pydantic import ValidationError

from app.publishing.spend import (
    PRICE_CREATE_POST,
    PRICE_POST_WITH_URL,
    PRICE_READ_POST,
    PRICE_SUMMONED_REPLY,
    AnswerSpend,
    answer_spend,
    event_spend,
    post_cost,
)
from app.publishing.threads import split_into_posts
from tests.publishing.test_threads import ANSWER


@pytest.mark.parametrize(
    ("price", "listed"),
    [
        (PRICE_READ_POST, "0.005"),
        (PRICE_CREATE_POST, "0.015"),
        (PRICE_SUMMONED_REPLY, "0.010"),
        (PRICE_POST_WITH_URL, "0.20"),
    ],
)
def test_prices_are_exact_decimals(price: Decimal, listed: str) -> None:
    # Built from strings, not floats: str() shows no binary-float noise.
    assert isinstance(price, Decimal)
    assert str(price) == listed


def test_a_single_post() -> None:
    spend = answer_spend(["The plant stays open."], reply_to_summoner=False)

    assert spend.usd == Decimal("0.015")
    assert spend.url_posts == 0
    [post] = spend.posts
    assert (post.kind, post.has_url, post.usd) == ("post", False, PRICE_CREATE_POST)
    assert post.text == "The plant stays open."


def test_a_summoned_reply() -> None:
    spend = answer_spend(["@asker The plant stays open."], reply_to_summoner=True)

    assert spend.usd == Decimal("0.010")
    assert [p.kind for p in spend.posts] == ["summoned_reply"]


@pytest.mark.parametrize(
    ("reply_to_summoner", "first"),
    [(True, PRICE_SUMMONED_REPLY), (False, PRICE_CREATE_POST)],
)
def test_a_thread_prices_only_its_first_post_as_a_summoned_reply(
    reply_to_summoner: bool, first: Decimal
) -> None:
    parts = ["One (1/3)", "Two (2/3)", "Three (3/3)"]

    spend = answer_spend(parts, reply_to_summoner=reply_to_summoner)

    # The later posts reply to our own post: nobody summoned us there.
    assert [p.kind for p in spend.posts][1:] == ["post", "post"]
    assert [p.usd for p in spend.posts] == [first, PRICE_CREATE_POST, PRICE_CREATE_POST]
    assert spend.usd == first + 2 * PRICE_CREATE_POST
    assert [p.text for p in spend.posts] == parts


def test_a_url_replaces_the_price_and_is_flagged() -> None:
    parts = [
        "Read the plan at https://example.com/plan (1/3)",
        "It is also on exemple.fr (2/3)",
        "No link here (3/3)",
    ]

    spend = answer_spend(parts, reply_to_summoner=True)

    assert [p.has_url for p in spend.posts] == [True, True, False]
    # The URL price replaces the reply's price, it is not added to it.
    assert [p.usd for p in spend.posts] == [
        PRICE_POST_WITH_URL,
        PRICE_POST_WITH_URL,
        PRICE_CREATE_POST,
    ]
    assert [p.kind for p in spend.posts] == ["summoned_reply", "post", "post"]
    assert spend.url_posts == 2
    assert spend.usd == Decimal("0.415")


def test_a_real_split_answer() -> None:
    parts = split_into_posts(ANSWER)

    spend = answer_spend(parts, reply_to_summoner=False)

    assert len(spend.posts) == len(parts)
    assert spend.url_posts == 2
    assert spend.usd == 2 * PRICE_POST_WITH_URL + (len(parts) - 2) * PRICE_CREATE_POST


def test_an_answer_without_posts_raises() -> None:
    with pytest.raises(ValueError, match="at least one post"):
        answer_spend([], reply_to_summoner=False)


def test_costs_are_frozen() -> None:
    post = post_cost("hello", "post")
    with pytest.raises(ValidationError):
        post.usd = Decimal(0)  # type: ignore[misc]


def test_event_totals() -> None:
    answers: list[AnswerSpend] = [
        answer_spend(["Short answer."], reply_to_summoner=True),
        answer_spend(["See https://example.com (1/2)", "And more (2/2)"], reply_to_summoner=False),
        answer_spend(["A (1/3)", "B (2/3)", "C (3/3)"], reply_to_summoner=True),
    ]

    spend = event_spend(12_345, answers)

    assert spend.posts_read == 12_345
    assert spend.read_usd == Decimal("61.725")
    assert spend.answers == 3
    assert spend.posts_created == 6
    assert spend.url_posts == 1
    # 0.010 + (0.20 + 0.015) + (0.010 + 0.015 + 0.015)
    assert spend.create_usd == Decimal("0.265")
    assert spend.usd == Decimal("61.990")
    assert all(isinstance(v, Decimal) for v in (spend.read_usd, spend.create_usd, spend.usd))


def test_an_event_without_answers() -> None:
    spend = event_spend(0, [])
    assert spend.usd == Decimal(0)
    assert (spend.answers, spend.posts_created, spend.url_posts) == (0, 0, 0)


def test_negative_reads_raise() -> None:
    with pytest.raises(ValueError, match="negative"):
        event_spend(-1, [])
