"""What triage says of a post."""

import re
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator


class Category(StrEnum):
    question = "question"
    complaint = "complaint"
    rumour = "rumour"
    praise = "praise"
    spam = "spam"
    other = "other"


class Post(BaseModel):
    """A post to triage: ``tribune triage`` reads one per line, ``{"id": ..., "text": ...}``."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=200)
    text: str = Field(max_length=10_000)


class Verdict(BaseModel):
    """Triage's answer for one post. ``group`` is shared by posts asking the same thing
    (None: no other post like it); ``confidence`` is the model's probability of ``category``."""

    id: str
    category: Category
    confidence: float
    lang: str
    group: str | None


# --- A LiveEvent's triage rules (app/triage/policy.py) -------------------------------------

# An account as a network names it: an X handle, or a Mastodon one with its instance
# ("user@instance.social"); the leading '@' is optional.
ACCOUNT_RE = re.compile(r"^[\w.-]{1,64}(?:@[\w.-]{1,100})?$")
# Enough for a brand's list; a longer one is a mistake (a pasted file) and costs every batch.
MAX_LIST = 500


def _word(value: str) -> str:
    value = " ".join(value.split())
    if not value.strip("*"):
        raise ValueError("a blocked word cannot be empty")
    if "*" in value[:-1]:
        raise ValueError(f"'*' only at the end of a word (a prefix): {value!r}")
    return value


def _account(value: str) -> str:
    value = value.strip().removeprefix("@")
    if not ACCOUNT_RE.fullmatch(value):
        raise ValueError(f"not an account handle: {value!r} (e.g. @AuroraBank)")
    return value


Word = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(_word)]
Account = Annotated[str, Field(min_length=1, max_length=170), AfterValidator(_account)]


class TriageRulesIn(BaseModel):
    """A LiveEvent's rules, replaced as a whole. Lists are deduplicated, order kept."""

    model_config = ConfigDict(extra="forbid")

    blocked_words: list[Word] = Field(default_factory=list, max_length=MAX_LIST)
    blocked_accounts: list[Account] = Field(default_factory=list, max_length=MAX_LIST)
    auto_approve_accounts: list[Account] = Field(default_factory=list, max_length=MAX_LIST)
    profanity: bool = True
    reject_spam: bool = True

    @field_validator("blocked_words", "blocked_accounts", "auto_approve_accounts")
    @classmethod
    def _unique(cls, values: list[str]) -> list[str]:
        seen: dict[str, str] = {}
        for v in values:
            seen.setdefault(v.lower(), v)
        return list(seen.values())


class TriageRulesOut(TriageRulesIn):
    model_config = ConfigDict(from_attributes=True)

    # Shown beside the spam switch: what "high confidence" means.
    spam_confidence: float
