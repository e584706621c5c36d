"""Splitting an answer into X posts, by X's own length rules.

X counts weighted characters, not code points (twitter-text v3): every URL counts 23 whatever
its length, most CJK characters and every emoji count 2. The weights come from
twitter-text-parser and are never re-implemented here. Pure functions: no I/O.
"""

import bisect
import math
import re
import unicodedata
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import Final

from twitter_text import extract_emojis_with_indices, extract_urls_with_indices, parse_tweet

# X rejects a post whose weighted length is above this (the twitter-text v3 default).
X_MAX_WEIGHTED: Final = 280

# Runs of whitespace are where words end. Python's \s is Unicode-aware and matches exactly what
# str.split() splits on, so "no word lost" can be checked with str.split().
_SPACE_RUN: Final = re.compile(r"\s+")
_LINE_BREAK: Final = re.compile(r"\r\n|\r|\n")

# French typography puts a (often non-breaking) space before ? ! : ; and », and after «.
# A break there would strand the punctuation at the start of the next post, away from its
# sentence, so such breaks are taken only when nothing better fits.
# (The typographic quotes and the CJK full-width forms in these sets are the point: RUF001.)
_NON_BREAKING_SPACES: Final = frozenset("\u00a0\u2007\u202f")
_CLOSING_PUNCTUATION: Final = frozenset("?!:;»%)]}”’›")  # noqa: RUF001
_OPENING_PUNCTUATION: Final = frozenset("«¿¡([{“‘‹")  # noqa: RUF001

# What ends a sentence, Latin and CJK (full stop, exclamation and question marks, ellipsis).
_SENTENCE_END: Final = frozenset(".!?…。！？‼⁇⁈⁉")  # noqa: RUF001
# What may follow the end of a sentence and still belong to it: quotes and brackets.
_SENTENCE_CLOSERS: Final = frozenset("\"'”’»)]}」』）›")  # noqa: RUF001

# CJK scripts write without spaces, so a long answer is one long "word"; a break between two
# ideographs or kana is legitimate there (Unicode line breaking, UAX #14). Hangul is left out:
# Korean separates words with spaces. Ranges are inclusive code points.
_CJK_RANGES: Final = (
    (0x2E80, 0x2FDF),  # radicals
    (0x3000, 0x303F),  # CJK symbols and punctuation
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3100, 0x312F),  # bopomofo
    (0x31F0, 0x31FF),  # katakana phonetic extensions
    (0x3400, 0x4DBF),  # unified ideographs extension A
    (0x4E00, 0x9FFF),  # unified ideographs
    (0xF900, 0xFAFF),  # compatibility ideographs
    (0xFF00, 0xFFEF),  # half-width and full-width forms
    (0x20000, 0x3FFFF),  # supplementary ideographic planes
)
# Japanese line-breaking rules (kinsoku shori): these never start a line ...
_CJK_NO_LINE_START: Final = frozenset(
    "、。，．・：；？！）」』】〕〉》〙〗〟ー々〻ゝゞヽヾ…‥"  # noqa: RUF001
    "ぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶ"
)
# ... and these never end one.
_CJK_NO_LINE_END: Final = frozenset("（「『【〔〈《〘〖〝")  # noqa: RUF001


class _Rank(IntEnum):
    """How good a place to cut a post is; higher is better."""

    AVOID = 0  # a non-breaking space, or a space that would strand French punctuation
    WORD = 1  # between two words (or two CJK characters)
    SENTENCE = 2  # after the end of a sentence, or at a line break
    PARAGRAPH = 3  # at a blank line


@dataclass(frozen=True, slots=True)
class _Break:
    """A place where one post may end (at `start`) and the next begin (at `end`).

    A break over whitespace drops the whitespace (start < end); a break inside a run of CJK
    characters drops nothing (start == end).
    """

    start: int
    end: int
    rank: _Rank


@dataclass(frozen=True, slots=True)
class _Layout:
    """Everything about a text that does not depend on where it is cut.

    `prefix[k]` is the estimated weight of `text[:k]`, additive by construction: a URL or an
    emoji is charged in full on its first character. `atomic[k]` is True when index k is inside
    a URL, an emoji or a letter with its combining marks, where no cut may fall.
    """

    text: str
    prefix: list[int]
    atomic: list[bool]
    url_spans: frozenset[tuple[int, int]]
    breaks: list[_Break]  # sorted by position
    # For bisection: each break's position, and the estimated weight of the text before it.
    break_starts: list[int]
    break_weights: list[int]


def weighted_length(text: str) -> int:
    """The length X checks a post against (twitter-text v3: URLs 23, CJK and emoji 2)."""
    return int(parse_tweet(text).weightedLength)


def split_into_posts(text: str, limit: int = X_MAX_WEIGHTED, numbered: bool = True) -> list[str]:
    """Split an answer into posts that X accepts, as few and as readable as possible.

    A text that fits is returned whole, stripped and unnumbered. Otherwise every post ends with
    " (i/n)" when `numbered`, and every post, suffix included, weighs at most `limit`.

    Cuts fall, in order of preference, at a blank line, then at a line break or the end of a
    sentence (either provided the post keeps at least half of its room, so a short first
    sentence does not waste a post), then between words, and only as a last resort inside a
    word. URLs and emoji are atomic. French spacing is understood: the punctuation of "Vraiment ?"
    stays with its sentence.

    Whitespace: inside a post the original whitespace is kept as it is (line breaks included);
    the whitespace at a cut is dropped. So, unless a cut had to fall inside a run without spaces
    (CJK text, an over-long word), `" ".join(posts_without_suffixes)` equals the text with its
    runs of whitespace collapsed, after collapsing those of the posts too. Where a cut fell
    inside such a run, the two pieces rejoin without a space.

    Raises ValueError for a blank text, or a `limit` too small for a URL plus the numbering.
    """
    stripped = text.strip()
    if not stripped:
        raise ValueError("an answer needs some text to be posted")
    if weighted_length(stripped) <= limit:
        return [stripped]

    layout = _layout(stripped)
    if not numbered:
        return _pack(layout, limit, total=None)

    # The numbering's width depends on the total, which depends on the numbering's width: guess
    # low (no post can hold more than `limit`), split, and raise the guess until it holds.
    total = max(2, math.ceil(layout.prefix[-1] / limit))
    while True:
        parts = _pack(layout, limit, total=total)
        if len(parts) <= total:
            break
        total = len(parts)
    # Fewer parts than guessed is still a valid split: with a smaller total the suffixes can only
    # get shorter, so every part keeps fitting.
    return [part + _suffix(i, len(parts)) for i, part in enumerate(parts, start=1)]


def _suffix(index: int, total: int | None) -> str:
    return "" if total is None else f" ({index}/{total})"


def _pack(layout: _Layout, limit: int, total: int | None) -> list[str]:
    """Cut the text greedily from the start; return the parts without their suffixes."""
    parts: list[str] = []
    start = 0
    while start < len(layout.text):
        suffix = _suffix(len(parts) + 1, total)
        end, start_next = _next_cut(layout, start, suffix, limit)
        parts.append(layout.text[start:end])
        start = start_next
    return parts


def _next_cut(layout: _Layout, start: int, suffix: str, limit: int) -> tuple[int, int]:
    """Where the post beginning at `start` ends, and where the next one begins.

    Candidates are chosen by the additive estimate, then each is checked with the real
    twitter-text count before it is taken, so the limit holds even where the estimate is off
    (for instance text that NFC normalisation shortens).
    """
    text, prefix = layout.text, layout.prefix
    room = limit - weighted_length(suffix)
    budget = prefix[start] + room

    def fits(end: int) -> bool:
        return weighted_length(text[start:end] + suffix) <= limit

    if prefix[-1] <= budget and fits(len(text)):
        return len(text), len(text)

    first = bisect.bisect_right(layout.break_starts, start)
    last = bisect.bisect_right(layout.break_weights, budget, lo=first)
    for brk in _by_preference(layout, start, room, layout.breaks[first:last]):
        if fits(brk.start):
            return brk.start, brk.end

    # Last resort: cut inside the first word, never inside a URL or an emoji, nor before a
    # combining mark (it would lose its base letter) or around a zero-width joiner. Preferably
    # not where a piece would read as a new URL either ("xxexample.com" cut after "xx"): X would
    # link it and charge the URL price. Failing that, a valid post beats no post.
    word_end = layout.breaks[first].start if first < len(layout.breaks) else len(text)
    furthest = min(bisect.bisect_right(prefix, budget) - 1, word_end - 1)
    cuts = [c for c in range(furthest, start, -1) if _can_cut_inside_word(layout, c)]
    for cut in (c for c in cuts if _keeps_urls(layout, start, c)):
        if fits(cut):
            return cut, cut
    for cut in cuts:
        if fits(cut):
            return cut, cut
    numbering = f" and the numbering {suffix.strip()!r}" if suffix else ""
    raise ValueError(
        f"a limit of {limit} leaves no room for {text[start : start + 40]!r}{numbering}"
    )


def _by_preference(layout: _Layout, start: int, room: int, fitting: list[_Break]) -> list[_Break]:
    """The fitting breaks, best first; the others follow, furthest first, as fallbacks."""
    furthest_first = fitting[::-1]

    def filled_enough(brk: _Break) -> bool:
        return 2 * (layout.prefix[brk.start] - layout.prefix[start]) >= room

    preferred: _Break | None = None
    for rank, need_fill in (
        (_Rank.PARAGRAPH, True),
        (_Rank.SENTENCE, True),
        (_Rank.WORD, False),
        (_Rank.AVOID, False),
    ):
        preferred = next(
            (b for b in furthest_first if b.rank >= rank and (filled_enough(b) or not need_fill)),
            None,
        )
        if preferred is not None:
            break
    if preferred is None:
        return []
    return [preferred, *(b for b in furthest_first if b is not preferred)]


def _keeps_urls(layout: _Layout, start: int, cut: int) -> bool:
    """Whether the pieces on either side of `cut` hold only the text's own URLs."""
    text = layout.text
    space = _SPACE_RUN.search(text, cut)
    run_end = space.start() if space else len(text)
    for offset, piece in ((start, text[start:cut]), (cut, text[cut:run_end])):
        for url in extract_urls_with_indices(piece):
            begin, end = url["indices"]
            if (offset + begin, offset + end) not in layout.url_spans:
                return False
    return True


def _can_cut_inside_word(layout: _Layout, cut: int) -> bool:
    text = layout.text
    return (
        not layout.atomic[cut]
        and not _is_mark(text[cut])
        and "\u200d" not in (text[cut], text[cut - 1])
    )


def _layout(text: str) -> _Layout:
    """Weigh every character once and find every place a post may end."""
    weights = [0] * len(text)
    atomic = [False] * (len(text) + 1)
    charged = [False] * len(text)

    def charge(begin: int, end: int) -> None:
        # Same precedence as twitter-text: URLs first, then emoji outside them.
        if any(charged[begin:end]):
            return
        weights[begin] = _cluster_weight(text[begin:end])
        for k in range(begin, end):
            charged[k] = True
        for k in range(begin + 1, end):
            atomic[k] = True

    url_spans = frozenset(
        (u["indices"][0], u["indices"][1]) for u in extract_urls_with_indices(text)
    )
    for begin, end in url_spans:
        charge(begin, end)
    for emoji in extract_emojis_with_indices(text):
        charge(*emoji["indices"])
    # The rest is weighed a letter at a time, a letter carrying its combining marks: twitter-text
    # counts NFC-normalised text, where "e" + U+0301 is one character, "é".
    k = 0
    while k < len(text):
        if charged[k]:
            k += 1
            continue
        end = k + 1
        while end < len(text) and not charged[end] and _is_mark(text[end]):
            end += 1
        weights[k] = _cluster_weight(text[k:end])
        for j in range(k + 1, end):
            atomic[j] = True
        k = end

    prefix = [0]
    for weight in weights:
        prefix.append(prefix[-1] + weight)

    breaks = [
        _Break(m.start(), m.end(), _space_rank(text, m.start(), m.end()))
        for m in _SPACE_RUN.finditer(text)
        if not atomic[m.start()]
    ]
    breaks.extend(
        _Break(k, k, _Rank.SENTENCE if _ends_sentence(text, k) else _Rank.WORD)
        for k in range(1, len(text))
        if _cjk_break_allowed(text, k) and not atomic[k]
    )
    breaks.sort(key=lambda b: b.start)
    starts = [b.start for b in breaks]
    return _Layout(text, prefix, atomic, url_spans, breaks, starts, [prefix[k] for k in starts])


@lru_cache(maxsize=4096)
def _cluster_weight(cluster: str) -> int:
    return weighted_length(cluster)


def _is_mark(char: str) -> bool:
    return unicodedata.category(char) in {"Mn", "Mc", "Me"}


def _space_rank(text: str, start: int, end: int) -> _Rank:
    """Rank a break over the whitespace `text[start:end]` (never at the ends of `text`)."""
    line_breaks = len(_LINE_BREAK.findall(text, start, end))
    if line_breaks >= 2:
        return _Rank.PARAGRAPH
    if line_breaks == 1:
        return _Rank.SENTENCE
    if set(text[start:end]) <= _NON_BREAKING_SPACES:
        return _Rank.AVOID
    if text[end] in _CLOSING_PUNCTUATION or text[start - 1] in _OPENING_PUNCTUATION:
        return _Rank.AVOID
    # "e.g. this" is not the end of a sentence: the next sentence does not begin in lower case.
    if _ends_sentence(text, start) and not text[end].islower():
        return _Rank.SENTENCE
    return _Rank.WORD


def _ends_sentence(text: str, at: int) -> bool:
    """Whether `text[:at]` ends a sentence, quotes and French spacing included ("oui ! »")."""
    k = at - 1
    while k >= 0 and (text[k] in _SENTENCE_CLOSERS or text[k].isspace()):
        k -= 1
    return k >= 0 and text[k] in _SENTENCE_END


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return any(low <= code <= high for low, high in _CJK_RANGES)


def _cjk_break_allowed(text: str, k: int) -> bool:
    before, after = text[k - 1], text[k]
    return (
        _is_cjk(before)
        and _is_cjk(after)
        and not before.isspace()
        and not after.isspace()
        and after not in _CJK_NO_LINE_START
        and before not in _CJK_NO_LINE_END
    )
