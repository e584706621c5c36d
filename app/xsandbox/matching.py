"""One matcher for stream rules and recent-search queries: a small, exact subset of X's syntax.

Supported, and nothing else (anything else is rejected rather than silently never matching):

- terms separated by spaces are ANDed; ``OR`` (upper case) between terms; AND binds tighter
  than OR, as on X: ``a OR b c`` is ``a OR (b AND c)``; parentheses group;
- ``"a quoted phrase"``: case-insensitive substring of the text;
- ``#tag``: the text holds that exact hashtag (case-insensitive, ``#tag`` does not match
  ``#tagged``);
- ``@handle``: the post mentions that account (``entities.mentions`` or ``@handle`` in the text);
- ``from:handle`` (or ``from:<user id>``), ``conversation_id:ID``, ``lang:xx``;
- ``is:retweet``, ``is:reply``, ``is:quote``, ``has:mentions``, ``has:hashtags``, ``has:links``;
- a bare word: case-insensitive substring of the text;
- ``-`` before any term, phrase or group negates it.

The text matched is the full text (``note_tweet.text`` when the post has one), HTML-unescaped,
since X delivers ``&amp;`` but matches what the author typed.

As on X, a query needs at least one positive stand-alone term (a word, phrase, hashtag, mention,
``from:`` or ``conversation_id:``): ``lang:``, ``is:`` and ``has:`` only narrow one down.
"""

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# X's limit for one rule on self-serve access (X_API.md).
MAX_RULE_LENGTH = 1024

_OPERATORS = frozenset({"from", "conversation_id", "lang", "is", "has"})
_IS_VALUES = frozenset({"retweet", "reply", "quote"})
_HAS_VALUES = frozenset({"mentions", "hashtags", "links"})
# Terms that can stand alone; the others (lang:, is:, has:) need one of these beside them.
_STANDALONE = frozenset({"word", "phrase", "hashtag", "mention", "from", "conversation_id"})
_MENTION = re.compile(r"(?<![\w@])@(\w{1,15})")
_LINK = re.compile(r"https?://", re.IGNORECASE)


class QueryError(ValueError):
    """A rule or query the matcher cannot accept; ``details`` are X-style messages."""

    def __init__(self, details: list[str]) -> None:
        super().__init__("; ".join(details))
        self.details = details


@dataclass(frozen=True)
class PostView:
    """What matching needs from one X v2 message (``data`` plus ``includes.users``)."""

    id: str
    text: str
    author_id: str
    author_username: str
    lang: str
    conversation_id: str
    mentions: frozenset[str]
    referenced_types: frozenset[str]

    @classmethod
    def from_message(cls, message: Mapping[str, Any]) -> "PostView":
        """Read a stream message; missing fields read as empty, never as an error."""
        data: Mapping[str, Any] = message.get("data") or {}
        note = data.get("note_tweet") or {}
        text = html.unescape(str(note.get("text") or data.get("text") or ""))
        author_id = str(data.get("author_id") or "")
        users = (message.get("includes") or {}).get("users") or []
        username = next(
            (str(u.get("username") or "") for u in users if str(u.get("id")) == author_id), ""
        )
        entities = data.get("entities") or {}
        mentions = {str(m.get("username") or "").lower() for m in entities.get("mentions") or []}
        mentions |= {m.lower() for m in _MENTION.findall(text)}
        referenced = {str(r.get("type")) for r in data.get("referenced_tweets") or []}
        return cls(
            id=str(data.get("id") or ""),
            text=text,
            author_id=author_id,
            author_username=username,
            lang=str(data.get("lang") or ""),
            conversation_id=str(data.get("conversation_id") or data.get("id") or ""),
            mentions=frozenset(mentions - {""}),
            referenced_types=frozenset(referenced),
        )


@dataclass(frozen=True)
class Term:
    kind: str
    value: str

    def matches(self, post: PostView) -> bool:
        value = self.value.lower()
        if self.kind in ("word", "phrase"):
            return value in post.text.lower()
        if self.kind == "hashtag":
            return re.search(rf"(?<![\w#&])#{re.escape(value)}(?!\w)", post.text, re.I) is not None
        if self.kind == "mention":
            return value in post.mentions
        if self.kind == "from":
            return value in (post.author_username.lower(), post.author_id)
        if self.kind == "conversation_id":
            return value == post.conversation_id
        if self.kind == "lang":
            return value == post.lang.lower()
        if self.kind == "is":
            kind = {"retweet": "retweeted", "reply": "replied_to", "quote": "quoted"}[value]
            return kind in post.referenced_types
        # has:
        if value == "mentions":
            return bool(post.mentions)
        if value == "hashtags":
            return re.search(r"(?<![\w#&])#\w", post.text) is not None
        return _LINK.search(post.text) is not None


@dataclass(frozen=True)
class Not:
    node: "Node"

    def matches(self, post: PostView) -> bool:
        return not self.node.matches(post)


@dataclass(frozen=True)
class And:
    nodes: tuple["Node", ...]

    def matches(self, post: PostView) -> bool:
        return all(node.matches(post) for node in self.nodes)


@dataclass(frozen=True)
class Or:
    nodes: tuple["Node", ...]

    def matches(self, post: PostView) -> bool:
        return any(node.matches(post) for node in self.nodes)


Node = Term | Not | And | Or

# Token kinds: "(" (with its negation), ")", "OR", or a term (with its negation).
_Token = tuple[str, bool, Term | None]


def balance_errors(value: str) -> list[str]:
    """Unbalanced double quotes or parentheses (outside quotes), as X reports them."""
    errors: list[str] = []
    if value.count('"') % 2:
        errors.append("Unbalanced double quotes: every opening quote needs a closing one.")
    depth = 0
    in_quote = False
    for char in value:
        if char == '"':
            in_quote = not in_quote
        elif not in_quote and char == "(":
            depth += 1
        elif not in_quote and char == ")":
            depth -= 1
            if depth < 0:
                break
    if depth != 0:
        errors.append("Unbalanced parentheses: every '(' needs a matching ')'.")
    return errors


def rule_errors(value: str) -> list[str]:
    """Why ``value`` is not a valid stream rule (empty list when it is)."""
    if not value.strip():
        return ["Rules must not be empty."]
    errors = []
    if len(value) > MAX_RULE_LENGTH:
        errors.append(f"Rules must be at most {MAX_RULE_LENGTH} characters long.")
    errors += balance_errors(value)
    if errors:
        return errors
    try:
        parse_query(value)
    except QueryError as exc:
        return exc.details
    return []


def parse_query(query: str) -> Node:
    """Parse a rule or query into a tree whose ``matches(PostView)`` says if a post matches."""
    if not query.strip():
        raise QueryError(["The query must not be empty."])
    balance = balance_errors(query)
    if balance:
        raise QueryError(balance)
    parser = _Parser(_tokenize(query))
    node = parser.parse_or()
    if parser.pos != len(parser.tokens):
        raise QueryError(["Unexpected ')'."])
    if not _has_standalone(node):
        raise QueryError(
            [
                "A query needs at least one positive stand-alone term (a word, a quoted phrase,"
                " #hashtag, @mention, from: or conversation_id:); lang:, is: and has: only"
                " narrow one down."
            ]
        )
    return node


def matches(query: str, message: Mapping[str, Any]) -> bool:
    """Convenience for one-off checks: does ``message`` match ``query``."""
    return parse_query(query).matches(PostView.from_message(message))


def _tokenize(query: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        char = query[i]
        if char.isspace():
            i += 1
            continue
        if char == ")":
            tokens.append((")", False, None))
            i += 1
            continue
        negated = char == "-"
        if negated:
            i += 1
            if i >= n or query[i].isspace() or query[i] == ")":
                raise QueryError(["A '-' must be followed by a term, a phrase or a group."])
            char = query[i]
        if char == "(":
            tokens.append(("(", negated, None))
            i += 1
        elif char == '"':
            end = query.index('"', i + 1)  # balance_errors ran first: a closing quote exists
            phrase = query[i + 1 : end]
            if not phrase.strip():
                raise QueryError(["A quoted phrase must not be empty."])
            tokens.append(("term", negated, Term("phrase", phrase)))
            i = end + 1
        else:
            start = i
            while i < n and not query[i].isspace() and query[i] not in '()"':
                i += 1
            word = query[start:i]
            if word == "OR" and not negated:
                tokens.append(("OR", False, None))
            else:
                tokens.append(("term", negated, _term(word)))
    return tokens


def _term(word: str) -> Term:
    if word.startswith("#"):
        if len(word) == 1:
            raise QueryError(["A '#' must be followed by a hashtag."])
        return Term("hashtag", word[1:])
    if word.startswith("@"):
        if len(word) == 1:
            raise QueryError(["An '@' must be followed by a username."])
        return Term("mention", word[1:].lower())
    name, colon, value = word.partition(":")
    if colon and re.fullmatch(r"[a-z_]+", name):
        if name not in _OPERATORS:
            raise QueryError([f"The operator '{name}:' is not supported by the sandbox."])
        if not value:
            raise QueryError([f"The operator '{name}:' needs a value."])
        if name == "is" and value not in _IS_VALUES:
            raise QueryError([f"'is:{value}' is not supported by the sandbox."])
        if name == "has" and value not in _HAS_VALUES:
            raise QueryError([f"'has:{value}' is not supported by the sandbox."])
        if name == "from":
            value = value.removeprefix("@").lower()
        return Term(name, value)
    return Term("word", word)


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos][0] if self.pos < len(self.tokens) else None

    def parse_or(self) -> Node:
        nodes = [self._parse_and()]
        while self._peek() == "OR":
            self.pos += 1
            nodes.append(self._parse_and())
        return nodes[0] if len(nodes) == 1 else Or(tuple(nodes))

    def _parse_and(self) -> Node:
        nodes: list[Node] = []
        while self._peek() not in (None, "OR", ")"):
            nodes.append(self._parse_unary())
        if not nodes:
            raise QueryError(["'OR' and groups need a term on each side."])
        return nodes[0] if len(nodes) == 1 else And(tuple(nodes))

    def _parse_unary(self) -> Node:
        kind, negated, term = self.tokens[self.pos]
        self.pos += 1
        node: Node
        if kind == "(":
            node = self.parse_or()
            if self._peek() != ")":
                raise QueryError(["Unbalanced parentheses: every '(' needs a matching ')'."])
            self.pos += 1
        elif term is not None:
            node = term
        else:
            raise QueryError(["Unexpected ')'."])
        return Not(node) if negated else node


def _has_standalone(node: Node) -> bool:
    if isinstance(node, Term):
        return node.kind in _STANDALONE
    if isinstance(node, Not):
        return False
    if isinstance(node, And):
        return any(_has_standalone(child) for child in node.nodes)
    return all(_has_standalone(child) for child in node.nodes)
