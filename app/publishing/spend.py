"""What publishing to X is expected to cost, shown to the operator before and during a LiveEvent.

X bills self-serve apps per resource (pay-per-use, the default since 2026-02). The prices below
are X's indicative prices as of late 2026 (see X_API.md), not read from an invoice: this is an
estimate. Money is Decimal throughout; a float cannot hold 0.015 exactly.
"""

from decimal import Decimal
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict
from twitter_text import extract_urls_with_indices

# Reading one post (stream or search); the monthly cap on reads is 3 M posts.
PRICE_READ_POST: Final = Decimal("0.005")
# Creating a post that is not a reply in a conversation we were summoned into.
PRICE_CREATE_POST: Final = Decimal("0.015")
# A reply in a conversation whose author summoned the account (mentioned it, or quoted one of
# its posts): since 2026-02-23 the only kind of reply a self-serve app may post.
PRICE_SUMMONED_REPLY: Final = Decimal("0.010")
# Creating a post that contains a URL, whatever else it is. More than thirteen plain posts, which
# is why the operator sees how many posts carry one.
PRICE_POST_WITH_URL: Final = Decimal("0.20")

PostKind = Literal["post", "summoned_reply"]


class PostCost(BaseModel):
    """The estimated price of one post of an answer."""

    model_config = ConfigDict(frozen=True)

    text: str
    kind: PostKind
    has_url: bool
    usd: Decimal


class AnswerSpend(BaseModel):
    """The estimated price of one answer, in as many posts as it takes."""

    model_config = ConfigDict(frozen=True)

    posts: list[PostCost]
    usd: Decimal
    # Posts carrying a URL cost PRICE_POST_WITH_URL each: worth a second look before sending.
    url_posts: int


class EventSpend(BaseModel):
    """The estimated X spend of a LiveEvent: reading the questions, publishing the answers."""

    model_config = ConfigDict(frozen=True)

    posts_read: int
    read_usd: Decimal
    answers: int
    posts_created: int
    create_usd: Decimal
    url_posts: int
    usd: Decimal


def post_cost(text: str, kind: PostKind) -> PostCost:
    """Price one post.

    A post with a URL costs PRICE_POST_WITH_URL instead of its usual price, not on top of it:
    X lists it as the price of creating such a post, a resource of its own. The estimate is
    therefore not cumulative; if invoices show otherwise, this is the one place to change.
    URLs are found as X finds them (twitter-text, bare domains such as example.com included).
    """
    has_url = bool(extract_urls_with_indices(text))
    if has_url:
        usd = PRICE_POST_WITH_URL
    elif kind == "summoned_reply":
        usd = PRICE_SUMMONED_REPLY
    else:
        usd = PRICE_CREATE_POST
    return PostCost(text=text, kind=kind, has_url=has_url, usd=usd)


def answer_spend(parts: list[str], *, reply_to_summoner: bool) -> AnswerSpend:
    """Price an answer split into posts (see app.publishing.threads.split_into_posts).

    Only the first post can be a summoned reply, and only when the asker summoned the account.
    The later posts of a thread reply to our own previous post; nobody summoned us into that
    conversation, so X prices them as created posts (PRICE_CREATE_POST), not as summoned replies.

    Raises ValueError for an answer without posts.
    """
    if not parts:
        raise ValueError("an answer has at least one post")
    first: PostKind = "summoned_reply" if reply_to_summoner else "post"
    posts = [post_cost(text, first if i == 0 else "post") for i, text in enumerate(parts)]
    return AnswerSpend(
        posts=posts,
        usd=sum((p.usd for p in posts), Decimal(0)),
        url_posts=sum(p.has_url for p in posts),
    )


def event_spend(
    posts_read: int, answers: list[AnswerSpend], answer_count: int | None = None
) -> EventSpend:
    """Total a LiveEvent's spend: posts read (stream and search) plus every answer published.

    ``answers`` holds one AnswerSpend per thread; an answer to merged questions has one thread
    per asker replied to, so ``answer_count`` says how many answers they make (default: one
    each). Raises ValueError for a negative number of posts read.
    """
    if posts_read < 0:
        raise ValueError("posts_read cannot be negative")
    read_usd = posts_read * PRICE_READ_POST
    create_usd = sum((a.usd for a in answers), Decimal(0))
    return EventSpend(
        posts_read=posts_read,
        read_usd=read_usd,
        answers=len(answers) if answer_count is None else answer_count,
        posts_created=sum(len(a.posts) for a in answers),
        create_usd=create_usd,
        url_posts=sum(a.url_posts for a in answers),
        usd=read_usd + create_usd,
    )
