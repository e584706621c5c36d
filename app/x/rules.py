"""The filtered-stream rule (and recent-search query) for a LiveEvent, built from its options.

One string serves both: X's rule syntax and its search query syntax agree on these operators.
"""

from pydantic import BaseModel, ConfigDict, Field

from app.errors import Invalid

# X's limit on one rule's length (pay-per-use filtered stream).
MAX_RULE_LENGTH = 1024


class RuleOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hashtags: list[str] = Field(min_length=1)
    answering_handle: str = ""
    # Ask the audience to mention the answering account: only those posts can get an API reply
    # (the summoned-reply rule, X_API.md), and the stream carries nothing else.
    require_mention: bool = False
    languages: list[str] = []
    no_retweets: bool = True


def build_rule(options: RuleOptions) -> str:
    """``(#A OR #B) @handle (lang:fr OR lang:en) -is:retweet``, as the options say."""
    tags = [f"#{tag.lstrip('#')}" for tag in options.hashtags]
    parts = [tags[0] if len(tags) == 1 else f"({' OR '.join(tags)})"]
    if options.require_mention:
        if not options.answering_handle:
            raise Invalid("require_mention needs the LiveEvent's answering account")
        parts.append(f"@{options.answering_handle.lstrip('@')}")
    if options.languages:
        langs = [f"lang:{lang}" for lang in options.languages]
        parts.append(langs[0] if len(langs) == 1 else f"({' OR '.join(langs)})")
    if options.no_retweets:
        parts.append("-is:retweet")
    rule = " ".join(parts)
    if len(rule) > MAX_RULE_LENGTH:
        raise Invalid(f"the stream rule is {len(rule)} characters; X allows {MAX_RULE_LENGTH}")
    return rule
