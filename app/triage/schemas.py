"""What triage says of a post."""

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


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
