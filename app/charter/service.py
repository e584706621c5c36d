"""The editorial charter: reading and saving it, the one check of an answer against it, and the
audit of overrides. ``check`` is pure; the composer (through the router) and the answer
endpoint both use it, so what the spokesperson sees is what publishing enforces."""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from functools import lru_cache
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from twitter_text import extract_urls_with_indices

from app.accounts.models import MODERATORS, Role, User
from app.charter.models import Charter, CharterOverride
from app.charter.schemas import (
    AnswerTemplate,
    CharterIn,
    CharterOut,
    CheckOut,
    LinkPolicy,
    MentionPolicy,
    Network,
    OverrideIn,
    OverrideOut,
    RuleId,
    Severity,
    TemplateKind,
    Violation,
)
from app.db import utcnow
from app.errors import AppError, Forbidden
from app.events import service as events
from app.events.models import LiveEvent
from app.publishing.models import XMode
from app.publishing.service import default_mode
from app.publishing.spend import PRICE_CREATE_POST, PRICE_POST_WITH_URL, answer_spend
from app.publishing.threads import X_MAX_WEIGHTED, split_into_posts, weighted_length
from app.questions.models import Answer, Question


class CharterViolation(AppError):
    """An answer that breaks a hard rule of the charter: nothing is stored or published."""

    status_code = 422
    code = "charter_violation"


# Mastodon counts every URL as 23 characters, whatever its length (as X does).
FEDIVERSE_URL_LENGTH = 23
# Words in capitals in a row that read as shouting; fewer are acronyms ("BNP", "SNCF").
SHOUTING_WORDS = 3
_WORD = re.compile(r"[^\W\d_]+")
_EXCLAMATIONS = re.compile(r"!(?:\s*!)+")
# @alice on X, @alice.bsky.social on Bluesky, @alice@instance.social on Mastodon. Not an e-mail
# address (a word character before the @), and not a sentence's final dot.
_MENTION = re.compile(
    r"(?<![\w@/.])@([A-Za-z0-9_]{1,30}(?:\.[A-Za-z0-9-]+)*(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)"
)
# The typewriter apostrophe and the typographic one (U+2019), as a regular expression class.
APOSTROPHES = "['\u2019]"
NETWORK_NAMES = {
    Network.x: "X",
    Network.mastodon: "Mastodon",
    Network.bluesky: "Bluesky",
    Network.page: "the Tribune page",
}

# --- Reading and saving ------------------------------------------------------------------------


async def get(session: AsyncSession, live_event: LiveEvent) -> CharterIn:
    """The LiveEvent's charter: the saved one, or the defaults."""
    row = await session.get(Charter, live_event.id)
    return CharterIn.model_validate(row.rules) if row else CharterIn()


async def view(session: AsyncSession, live_event: LiveEvent) -> CharterOut:
    row = await session.get(Charter, live_event.id)
    charter = CharterIn.model_validate(row.rules) if row else CharterIn()
    return CharterOut(
        **charter.model_dump(),
        updated_at=row.updated_at if row else None,
        updated_by=row.updated_by if row else "",
    )


async def save(
    session: AsyncSession, live_event: LiveEvent, data: CharterIn, actor: User
) -> CharterOut:
    """Replace the LiveEvent's charter (the operator's edit)."""
    row = await session.get(Charter, live_event.id)
    if row is None:
        row = Charter(live_event_id=live_event.id)
        session.add(row)
    row.rules = data.model_dump(mode="json")
    row.updated_at = utcnow()
    row.updated_by = actor.username
    await session.flush()
    return await view(session, live_event)


async def templates(
    session: AsyncSession, live_event: LiveEvent, kind: TemplateKind | None = None
) -> list[AnswerTemplate]:
    """The charter's answer templates, of one kind (answer, rumour, complaint_followup) or all."""
    charter = await get(session, live_event)
    return [t for t in charter.templates if kind is None or t.kind == kind]


def asker_of(question: Question) -> str:
    """How an answer names the asker: their @handle when we have one, else their name."""
    if question.author_handle:
        return f"@{question.author_handle}"
    return question.author_name or ""


def render(template: AnswerTemplate, charter: CharterIn, asker: str) -> str:
    """A template's text with its placeholders filled. Plain replacement, not str.format: a
    brace in the text is only ever text."""
    text = template.text.replace("{asker}", asker).replace("{signature}", charter.signature)
    return " ".join(text.split())


# --- The check ---------------------------------------------------------------------------------


def check(
    charter: CharterIn,
    text: str,
    network: Network,
    *,
    mentions_allowed: Iterable[str] = (),
) -> list[Violation]:
    """Every rule of ``charter`` that ``text`` breaks when published on ``network``, in the
    order the rules are listed. Rules set to ``off`` are skipped. ``mentions_allowed`` are the
    handles the mention policy lets through (the asker's, our own)."""
    return check_all(charter, text, [network], mentions_allowed=mentions_allowed)


def check_all(
    charter: CharterIn,
    text: str,
    networks: Sequence[Network],
    *,
    mentions_allowed: Iterable[str] = (),
) -> list[Violation]:
    """``check`` for an answer that goes to several networks: the rules that do not depend on
    the network once, the others once per network."""
    found = [
        *_shouting(text),
        *_exclamations(text, charter.max_exclamation_marks),
        *_phrases(text, charter.dismissive_words, RuleId.dismissive),
        *_phrases(text, charter.forbidden_words, RuleId.forbidden_word),
        *_signature(text, charter.signature),
        *_links(text, charter),
        *_mentions(text, charter.mention_policy, mentions_allowed),
    ]
    for network in networks:
        found.extend(_length(text, charter, network))
        if network == Network.x:
            found.extend(_link_price(text))
    result = []
    for violation in found:
        severity = charter.severity[violation.rule]
        if severity is not Severity.off:
            result.append(violation.model_copy(update={"severity": severity}))
    return result


def _violation(
    rule: RuleId, message: str, text: str = "", span: tuple[int, int] | None = None
) -> Violation:
    # The severity is the charter's, set by check_all; "soft" is a placeholder until then.
    if span is None:
        return Violation(rule=rule, severity=Severity.soft, message=message)
    start, end = span
    return Violation(
        rule=rule,
        severity=Severity.soft,
        message=message,
        start=start,
        end=end,
        excerpt=text[start:end],
    )


def _shouting(text: str) -> list[Violation]:
    found = []
    run: list[re.Match[str]] = []
    counted = 0

    def close() -> None:
        if counted >= SHOUTING_WORDS:
            span = (run[0].start(), run[-1].end())
            found.append(
                _violation(
                    RuleId.shouting,
                    f"“{text[span[0] : span[1]]}” is in capitals: it reads as shouting.",
                    text,
                    span,
                )
            )

    for word in _WORD.finditer(text):
        token = word.group()
        if token.isupper():
            run.append(word)
            # "À", "I", "A": one capital letter is a word in capitals only inside a run.
            counted += len(token) > 1
        else:
            close()
            run, counted = [], 0
    close()
    return found


def _exclamations(text: str, most: int) -> list[Violation]:
    return [
        _violation(
            RuleId.exclamations,
            f"“{m.group()}”: more than {most} exclamation mark{'s' if most > 1 else ''} in a "
            "row sounds agitated.",
            text,
            m.span(),
        )
        for m in _EXCLAMATIONS.finditer(text)
        if m.group().count("!") > most
    ]


@lru_cache(maxsize=256)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    if not phrases:
        return None
    alternatives = []
    # Longest first, so "comme je l'ai déjà dit" wins over a shorter phrase inside it.
    for phrase in sorted(phrases, key=len, reverse=True):
        parts = [re.escape(part) for part in phrase.split()]
        # Any run of spaces between words; the typewriter and the typographic apostrophe alike.
        alternatives.append(re.sub(APOSTROPHES, APOSTROPHES, r"\s+".join(parts)))
    return re.compile(rf"(?<!\w)(?:{'|'.join(alternatives)})(?!\w)", re.IGNORECASE)


def _phrases(text: str, phrases: list[str], rule: RuleId) -> list[Violation]:
    pattern = _phrase_pattern(tuple(phrases))
    if pattern is None:
        return []
    found = []
    # Offsets refer to the NFC form: the same as the text's own unless it came decomposed.
    text = unicodedata.normalize("NFC", text)
    for m in pattern.finditer(text):
        if rule == RuleId.forbidden_word:
            message = f"“{m.group()}” is forbidden by the charter."
        else:
            message = f"“{m.group()}” can sound dismissive to the asker."
        found.append(_violation(rule, message, text, m.span()))
    return found


def _signature(text: str, signature: str) -> list[Violation]:
    if not signature or _squash(text).endswith(_squash(signature)):
        return []
    return [_violation(RuleId.signature, f"End the answer with the signature “{signature}”.")]


def _squash(text: str) -> str:
    # "—AB" and "— AB" at the end of a line are the same signature to a reader.
    return re.sub(r"\s+", "", unicodedata.normalize("NFC", text))


def _host(url: str) -> str:
    with_scheme = url if re.match(r"^[a-z][a-z0-9+.-]*://", url, re.IGNORECASE) else f"//{url}"
    host = (urlsplit(with_scheme).hostname or "").lower()
    return host.removeprefix("www.")


def _links(text: str, charter: CharterIn) -> list[Violation]:
    if charter.link_policy is LinkPolicy.allowed:
        return []
    found = []
    for entity in extract_urls_with_indices(text):
        start, end = entity["indices"]
        host = _host(entity["url"])
        if charter.link_policy is LinkPolicy.forbidden:
            message = f"The charter allows no links: remove {host or entity['url']}."
        elif any(host == d or host.endswith(f".{d}") for d in charter.link_domains):
            continue
        else:
            listed = ", ".join(charter.link_domains) or "none yet"
            message = f"{host} is not a site the charter allows links to (allowed: {listed})."
        found.append(_violation(RuleId.link, message, text, (start, end)))
    return found


def _link_price(text: str) -> list[Violation]:
    if not extract_urls_with_indices(text):
        return []
    return [
        Violation(
            rule=RuleId.link_price,
            severity=Severity.soft,
            network=Network.x,
            message=f"On X a post with a link costs ${PRICE_POST_WITH_URL} instead of "
            f"${PRICE_CREATE_POST}.",
        )
    ]


def _mentions(text: str, policy: MentionPolicy, allowed: Iterable[str]) -> list[Violation]:
    if policy is MentionPolicy.any:
        return []
    ok: set[str] = set()
    if policy is MentionPolicy.asker_only:
        for handle in allowed:
            # A Mastodon asker (alice@instance.social) may be named without the instance.
            full = handle.lstrip("@").casefold()
            ok |= {full, full.split("@", 1)[0]} if full else set()
    found = []
    for m in _MENTION.finditer(text):
        if m.group(1).casefold() in ok:
            continue
        if policy is MentionPolicy.none:
            message = f"{m.group()}: the charter allows no @mentions."
        else:
            message = f"{m.group()}: the charter allows no @mention other than the asker."
        found.append(_violation(RuleId.mention, message, text, m.span()))
    return found


def graphemes(text: str) -> int:
    """User-perceived characters, as Bluesky counts them: a letter and its accents, an emoji
    with its skin tone, variation selector and ZWJ sequence, a flag's two letters, each one."""
    count = 0
    joined = False
    regional = False
    for char in unicodedata.normalize("NFC", text):
        cp = ord(char)
        if (
            joined
            or unicodedata.combining(char)
            or 0xFE00 <= cp <= 0xFE0F
            or 0x1F3FB <= cp <= 0x1F3FF
        ):
            joined = False
            continue
        if cp == 0x200D:  # zero-width joiner: the next character belongs to this cluster
            joined = True
            continue
        if 0x1F1E6 <= cp <= 0x1F1FF:  # regional indicators pair up into a flag
            regional = not regional
            if not regional:
                continue
        else:
            regional = False
        count += 1
    return count


def _mastodon_length(text: str) -> int:
    urls = extract_urls_with_indices(text)
    return len(text) - sum(len(u["url"]) for u in urls) + FEDIVERSE_URL_LENGTH * len(urls)


def _length(text: str, charter: CharterIn, network: Network) -> list[Violation]:
    limit = getattr(charter.max_length, network.value)
    if limit is None:
        return []
    name = NETWORK_NAMES[network]
    if network == Network.x:
        used, unit = weighted_length(text), "weighted characters"
    elif network == Network.mastodon:
        used, unit = _mastodon_length(text), "characters"
    elif network == Network.bluesky:
        used, unit = graphemes(text), "characters"
    else:
        used, unit = len(text), "characters"
    if used <= limit:
        return []
    message = f"Too long for {name}: {used} {unit} of {limit}; cut {used - limit}."
    if network == Network.x and used > X_MAX_WEIGHTED:
        posts = len(split_into_posts(text))
        message += f" As it is, it goes out as a thread of {posts} posts."
    return [Violation(rule=RuleId.length, severity=Severity.soft, message=message, network=network)]


# --- Answers -----------------------------------------------------------------------------------


def answer_networks(
    question: Question, live_event: LiveEvent, mode: XMode | None, x_enabled: bool
) -> list[Network]:
    """Where an answer goes: the page always, X unless it is for the page only (the mode is
    resolved as publishing.plan resolves it)."""
    mode = mode or (default_mode(question, live_event) if x_enabled else XMode.page)
    return [Network.page] if mode == XMode.page else [Network.page, Network.x]


def mentions_allowed(question: Question | None, live_event: LiveEvent) -> list[str]:
    return [
        h for h in (question.author_handle if question else "", live_event.answering_handle) if h
    ]


async def check_text(
    session: AsyncSession,
    live_event: LiveEvent,
    text: str,
    network: Network,
    question: Question | None,
) -> CheckOut:
    """The composer's live check: violations, whether publishing is blocked, the X price."""
    charter = await get(session, live_event)
    violations = check(
        charter, text, network, mentions_allowed=mentions_allowed(question, live_event)
    )
    spend = None
    if network == Network.x and text.strip():
        summoned = bool(question and question.x_reply_allowed and question.x_post_id)
        spend = answer_spend(split_into_posts(text), reply_to_summoner=summoned)
    return CheckOut(
        violations=violations,
        blocked=any(v.severity is Severity.hard for v in violations),
        x_spend=spend,
    )


async def vet_answer(
    session: AsyncSession,
    live_event: LiveEvent,
    question: Question,
    text: str,
    networks: Sequence[Network],
    actor: User,
    override: OverrideIn | None,
) -> list[Violation]:
    """Check an answer before it is stored. Returns the hard violations a moderator overrode
    (to be recorded with ``record_override`` once the answer exists), usually none.

    Raises CharterViolation (422, with every violation) when a hard rule is broken and there is
    no override, and Forbidden when the override comes from someone who may not give one (a
    spokesperson: the charter is the moderators' to bend)."""
    charter = await get(session, live_event)
    violations = check_all(
        charter, text, networks, mentions_allowed=mentions_allowed(question, live_event)
    )
    hard = [v for v in violations if v.severity is Severity.hard]
    if not hard:
        return []
    listed = [v.model_dump(mode="json") for v in violations]
    if override is None:
        raise CharterViolation(
            "The answer breaks the charter: "
            + " ".join(v.message for v in hard)
            + " Fix it, or have a moderator override the charter.",
            violations=listed,
        )
    role = await events.role_on(session, actor, live_event.id)
    if role not in MODERATORS:
        raise Forbidden(
            "Only a moderator of this LiveEvent can override the charter; ask one to publish "
            "this answer, or fix it.",
            violations=listed,
        )
    return hard


async def record_override(
    session: AsyncSession,
    live_event: LiveEvent,
    answer: Answer,
    actor: User,
    broken: Sequence[Violation],
    networks: Sequence[Network],
    override: OverrideIn,
) -> CharterOverride:
    """Audit an answer published over the charter: who, when, which rules, why, what."""
    role = await events.role_on(session, actor, live_event.id)
    row = CharterOverride(
        live_event_id=live_event.id,
        question_id=answer.question_id,
        answer_id=answer.id,
        user_id=actor.id,
        username=actor.username,
        role=role.value if role else Role.admin.value,
        rules=sorted({v.rule.value for v in broken}),
        violations=[v.model_dump(mode="json") for v in broken],
        networks=[n.value for n in networks],
        reason=override.reason,
        answer_text=answer.text,
    )
    session.add(row)
    await session.flush()
    return row


async def overrides(session: AsyncSession, live_event: LiveEvent) -> list[OverrideOut]:
    """Every override of the LiveEvent's charter, oldest first."""
    rows = await session.scalars(
        select(CharterOverride)
        .where(CharterOverride.live_event_id == live_event.id)
        .order_by(CharterOverride.id)
    )
    return [OverrideOut.model_validate(row) for row in rows]
