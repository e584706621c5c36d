import enum
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from app.publishing.spend import AnswerSpend


class Severity(enum.StrEnum):
    """What a broken rule does: ``hard`` blocks publishing (unless a moderator overrides),
    ``soft`` is a warning; ``off`` (in the charter only) turns the rule off."""

    hard = "hard"
    soft = "soft"
    off = "off"


class RuleId(enum.StrEnum):
    shouting = "shouting"
    exclamations = "exclamations"
    dismissive = "dismissive"
    forbidden_word = "forbidden_word"
    signature = "signature"
    length = "length"
    link = "link"
    link_price = "link_price"
    mention = "mention"


class Network(enum.StrEnum):
    x = "x"
    mastodon = "mastodon"
    bluesky = "bluesky"
    page = "page"


class LinkPolicy(enum.StrEnum):
    allowed = "allowed"
    forbidden = "forbidden"
    # Only links to the charter's link_domains (and their subdomains).
    listed = "listed"


class MentionPolicy(enum.StrEnum):
    any = "any"
    # No @mention but the asker (and the LiveEvent's own answering account).
    asker_only = "asker_only"
    none = "none"


class TemplateKind(enum.StrEnum):
    answer = "answer"
    rumour = "rumour"
    complaint_followup = "complaint_followup"


# What a template may contain besides text; anything else in braces is refused when saved,
# so a typo ("{askr}") never reaches the audience.
PLACEHOLDERS = ("{asker}", "{signature}")
_BRACES = re.compile(r"\{[^{}]*\}")

# Dismissive phrasings a brand should not use with its audience, French and English. A soft
# rule by default: "évidemment" can be innocent, the spokesperson decides.
DEFAULT_DISMISSIVE = [
    "obviously",
    "calm down",
    "as I already said",
    "as I said before",
    "just read",
    "with all due respect",
    "no offence",
    "no offense",
    "évidemment",
    "calmez-vous",
    "du calme",
    "comme je l'ai déjà dit",
    "comme déjà dit",
    "vous n'avez qu'à",
    "il suffit de lire",
    "sans vouloir vous vexer",
]

# Out of the box only what is plainly a mistake blocks publishing (a forbidden word, a missing
# signature, a link or mention the charter forbids: each empty or permissive until the operator
# sets it); tone and length warn. A thread on X is allowed, so length is soft.
DEFAULT_SEVERITY: dict[RuleId, Severity] = {
    RuleId.shouting: Severity.soft,
    RuleId.exclamations: Severity.soft,
    RuleId.dismissive: Severity.soft,
    RuleId.forbidden_word: Severity.hard,
    RuleId.signature: Severity.hard,
    RuleId.length: Severity.soft,
    RuleId.link: Severity.hard,
    RuleId.link_price: Severity.soft,
    RuleId.mention: Severity.hard,
}


def _phrases(values: list[str]) -> list[str]:
    seen: dict[str, str] = {}
    for value in values:
        phrase = " ".join(value.split())
        if phrase:
            seen.setdefault(phrase.casefold(), phrase)
    return list(seen.values())


def _domains(values: list[str]) -> list[str]:
    domains = []
    for value in values:
        host = re.sub(r"^[a-z]+://", "", value.strip().lower()).split("/", 1)[0]
        host = host.removeprefix("www.")
        if not re.fullmatch(r"[a-z0-9-]+(\.[a-z0-9-]+)+", host):
            raise ValueError(f"{value!r} is not a domain name such as bank.example")
        if host not in domains:
            domains.append(host)
    return domains


Phrase = Annotated[str, Field(min_length=1, max_length=100)]
Phrases = Annotated[list[Phrase], Field(max_length=300), AfterValidator(_phrases)]


class AnswerTemplate(BaseModel):
    """A prepared answer: ``{asker}`` becomes the asker's @handle or name, ``{signature}`` the
    charter's signature."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=80)
    kind: TemplateKind = TemplateKind.answer
    text: str = Field(min_length=1, max_length=2000)

    @field_validator("text")
    @classmethod
    def _known_placeholders(cls, value: str) -> str:
        unknown = [p for p in _BRACES.findall(value) if p not in PLACEHOLDERS]
        if unknown:
            raise ValueError(f"unknown placeholder {unknown[0]}; use {' or '.join(PLACEHOLDERS)}")
        return value


DEFAULT_TEMPLATES = [
    AnswerTemplate(
        name="Rumour: not true",
        kind=TemplateKind.rumour,
        text="{asker} This is not true. The facts: … Our official information is on our "
        "website. {signature}",
    ),
    AnswerTemplate(
        name="Rumeur : c'est faux",
        kind=TemplateKind.rumour,
        text="{asker} Cette information est fausse. Les faits : … Nos informations "
        "officielles sont sur notre site. {signature}",
    ),
    AnswerTemplate(
        name="Complaint: your reference by DM",
        kind=TemplateKind.complaint_followup,
        text="{asker} We are sorry about this. Send us your customer reference by private "
        "message and we will look into it today. {signature}",
    ),
    AnswerTemplate(
        name="Réclamation : votre référence en MP",
        kind=TemplateKind.complaint_followup,
        text="{asker} Nous sommes désolés. Envoyez-nous votre référence client en message "
        "privé, nous regardons cela aujourd'hui. {signature}",
    ),
]


class MaxLength(BaseModel):
    """The longest answer per network; null means no limit. X counts weighted characters
    (twitter-text: a URL 23, CJK and emoji 2), Mastodon characters (a URL 23), Bluesky
    graphemes, the page nothing."""

    model_config = ConfigDict(extra="forbid")

    x: int | None = Field(280, ge=1, le=25_000)
    mastodon: int | None = Field(500, ge=1, le=100_000)
    bluesky: int | None = Field(300, ge=1, le=3000)
    page: int | None = Field(None, ge=1, le=10_000)


class CharterIn(BaseModel):
    """A LiveEvent's whole editorial charter, as the operator edits it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    severity: dict[RuleId, Severity] = Field(default_factory=lambda: dict(DEFAULT_SEVERITY))
    # More exclamation marks in a row than this is "a pile" (exclamations rule).
    max_exclamation_marks: int = Field(1, ge=1, le=10)
    dismissive_words: Phrases = Field(default_factory=lambda: list(DEFAULT_DISMISSIVE))
    forbidden_words: Phrases = Field(default_factory=list)
    # Required at the end of every answer, e.g. "— AB"; empty: no signature rule.
    signature: str = Field("", max_length=40)
    max_length: MaxLength = Field(default_factory=MaxLength)
    link_policy: LinkPolicy = LinkPolicy.allowed
    link_domains: Annotated[
        list[Annotated[str, Field(max_length=253)]],
        Field(max_length=100),
        AfterValidator(_domains),
    ] = Field(default_factory=list)
    mention_policy: MentionPolicy = MentionPolicy.any
    templates: list[AnswerTemplate] = Field(
        default_factory=lambda: list(DEFAULT_TEMPLATES), max_length=100
    )

    @field_validator("severity")
    @classmethod
    def _every_rule(cls, value: dict[RuleId, Severity]) -> dict[RuleId, Severity]:
        # A charter saved before a rule existed, or a partial PUT, gets that rule's default.
        return {**DEFAULT_SEVERITY, **value}


class CharterOut(CharterIn):
    updated_at: datetime | None
    updated_by: str


class Violation(BaseModel):
    """One broken rule, in words a spokesperson understands."""

    rule: RuleId
    severity: Severity
    message: str
    # The network the rule was checked for, when it depends on one (length, link price).
    network: Network | None = None
    # The offending part of the text (Python string offsets) and the part itself.
    start: int | None = None
    end: int | None = None
    excerpt: str = ""


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(max_length=10_000)
    network: Network = Network.page
    # The question answered: its asker may be mentioned (mention policy), and a reply to an
    # asker who summoned the account is priced as such.
    question_id: int | None = Field(None, ge=1, le=2**31 - 1)


class CheckOut(BaseModel):
    violations: list[Violation]
    # True when a hard rule is broken: publishing is refused unless a moderator overrides.
    blocked: bool
    # What the text costs on X (network x, non-empty text): a post with a URL costs more.
    x_spend: AnswerSpend | None = None


class OverrideIn(BaseModel):
    """Publish although the answer breaks a hard rule: a moderator's explicit decision."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=3, max_length=500)


class OverrideOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    live_event_id: int
    question_id: int | None
    answer_id: int | None
    username: str
    role: str
    at: datetime
    rules: list[str]
    violations: list[dict[str, Any]]
    networks: list[str]
    reason: str
    answer_text: str
