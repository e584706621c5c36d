"""Splitting answers into X posts: every post fits X's weighted count, nothing is lost.

The weights are checked with twitter-text's own parse_tweet, independently of the splitter.
"""

import random
import re
import unicodedata
from collections import Counter
from typing import Literal

import pytest
from twitter_text import extract_urls, parse_tweet

from app.publishing.threads import X_MAX_WEIGHTED, split_into_posts, weighted_length

NUMBERING = re.compile(r" \((\d+)/(\d+)\)\Z")


def bodies(parts: list[str]) -> list[str]:
    """The posts without their " (i/n)", asserting the numbering runs 1..n with n = len."""
    assert len(parts) >= 2
    found = []
    for i, part in enumerate(parts, start=1):
        match = NUMBERING.search(part)
        assert match is not None, part
        assert (int(match[1]), int(match[2])) == (i, len(parts))
        found.append(part[: match.start()])
    return found


def collapse(text: str) -> str:
    return " ".join(text.split())


def assert_rejoins(parts: list[str], text: str) -> None:
    """The parts, in order, spell the text: separated by a space or, inside a run without
    spaces (CJK, an over-long word), by nothing."""
    original = collapse(text)
    at = 0
    for part in parts:
        piece = collapse(part)
        assert original.startswith(piece, at), (piece, original[at : at + len(piece)])
        at += len(piece)
        if original[at : at + 1] == " ":
            at += 1
    assert at == len(original)


def assert_thread(text: str, parts: list[str], limit: int = X_MAX_WEIGHTED) -> list[str]:
    """Every invariant of a split; returns the bodies."""
    for part in parts:
        parsed = parse_tweet(part)
        assert parsed.weightedLength <= limit, part
        if limit == X_MAX_WEIGHTED:
            assert parsed.valid, part
    if len(parts) == 1:
        assert parts == [text.strip()]
        return parts
    found = bodies(parts)
    for body in found:
        assert body
        assert body == body.strip()
    assert_rejoins(found, text)
    # URLs are atomic: each comes out whole, in exactly one post.
    assert Counter(u for body in found for u in extract_urls(body)) == Counter(extract_urls(text))
    return found


ANSWER = (
    "Thank you for the question. We did not decide to close the Lyon plant lightly, and I want "
    "to be precise about what happens next. Every employee will be offered a position in "
    "Grenoble or Villeurbanne, with relocation costs covered for three years. The full social "
    "plan, as negotiated with the works council, is published at "
    "https://www.example-industries.com/news/2026/lyon-social-plan-final-agreement.pdf and "
    "anyone can read it. We also committed to keep the research lab open until at least 2030; "
    "the figures behind that commitment are in our annual report, "
    "https://investors.example-industries.com/reports/annual-2025?section=research&lang=en "
    "pages 41 to 47. I will come back to this forum in June with the first numbers, good or "
    "bad. That is a promise."
)


def test_short_text_is_one_unnumbered_post() -> None:
    text = "  Yes: the plant stays open until 2030, see https://example.com/plan.  "
    assert split_into_posts(text) == [text.strip()]


def test_exactly_the_limit_is_one_post() -> None:
    text = "a" * X_MAX_WEIGHTED
    assert split_into_posts(text) == [text]
    assert len(split_into_posts(text + "a")) == 2


def test_long_answer_with_two_urls_becomes_a_thread() -> None:
    assert len(ANSWER) >= 700
    urls = extract_urls(ANSWER)
    assert len(urls) == 2
    assert all(len(url) > 23 for url in urls)

    parts = split_into_posts(ANSWER)

    assert len(parts) >= 3
    found = assert_thread(ANSWER, parts)
    for url in urls:
        assert sum(url in body for body in found) == 1
    # Only single spaces in the answer, and no cut inside a word: the exact join property.
    assert " ".join(found) == collapse(ANSWER)
    assert parts[0].endswith(f" (1/{len(parts)})")
    assert parts[-1].endswith(f" ({len(parts)}/{len(parts)})")


def test_a_url_longer_than_a_post_counts_23_and_is_never_cut() -> None:
    url = "https://example.com/" + "chemin/" * 60
    text = ("mot " * 60) + url + (" fin" * 40)
    assert len(url) > X_MAX_WEIGHTED

    found = assert_thread(text, split_into_posts(text))

    assert sum(url in body for body in found) == 1


def sentence(words: int, seed: int) -> str:
    rng = random.Random(seed)
    return " ".join(
        rng.choice(["budget", "usine", "avenir", "emploi", "client"]) for _ in range(words)
    )


def test_cut_prefers_the_end_of_a_sentence() -> None:
    first = sentence(25, 1).capitalize() + "."
    second = sentence(25, 2).capitalize() + "."
    text = f"{first} {second}"
    room = X_MAX_WEIGHTED - len(" (1/2)")
    # The sentence ends well before the room is used up, and more than half of it is used.
    assert room // 2 <= weighted_length(first) < room - 20

    parts = split_into_posts(text)

    assert assert_thread(text, parts) == [first, second]
    # The same words without the full stop: the cut goes as far as the room allows.
    flat = split_into_posts(text.replace(".", ",", 1))
    assert len(bodies(flat)[0]) > len(first) + 10


def test_a_short_first_sentence_does_not_waste_a_post() -> None:
    text = "Yes. " + sentence(60, 3) + "."
    found = assert_thread(text, split_into_posts(text))
    assert found[0].startswith("Yes. ")
    assert weighted_length(found[0]) > X_MAX_WEIGHTED // 2


@pytest.mark.parametrize("space", [" ", "\u00a0", "\u202f"])
def test_french_punctuation_stays_with_its_sentence(space: str) -> None:
    room = X_MAX_WEIGHTED - len(" (1/2)")
    head = " ".join(["parole"] * 36)
    pad = room - weighted_length(f" {head} vraiment")
    prefix = "x" * pad + f" {head} vraiment"
    assert weighted_length(prefix) == room
    text = f"{prefix}{space}? Oui, bien sûr, et nous le ferons dès demain matin."

    found = assert_thread(text, split_into_posts(text))

    assert len(found) == 2
    assert found[1].startswith(f"vraiment{space}?")
    assert not any(body.startswith("?") for body in found)


def test_paragraphs_are_preferred_cuts_and_line_breaks_are_kept() -> None:
    first = "Three points.\n" + sentence(22, 4).capitalize() + "."
    second = "Then the second. " + sentence(40, 5).capitalize() + "."
    text = f"{first}\n\n{second}"

    found = assert_thread(text, split_into_posts(text))

    assert found[0] == first
    assert "\n" in found[0]


def test_cjk_counts_two_and_cuts_after_full_stops() -> None:
    text = "".join(f"これは第{i}の文です。" for i in range(40))
    assert weighted_length(text) > 2 * X_MAX_WEIGHTED

    found = assert_thread(text, split_into_posts(text))

    assert "".join(found) == text
    assert all(body.endswith("。") for body in found)
    assert all(weighted_length(body) <= X_MAX_WEIGHTED - len(" (1/3)") for body in found)


def test_cjk_without_punctuation_fills_every_post() -> None:
    text = "漢" * 300

    found = assert_thread(text, split_into_posts(text))

    assert "".join(found) == text
    # 280 - len(" (1/3)") = 274 weighted, at 2 per ideograph.
    assert [len(body) for body in found] == [137, 137, 26]


def french_words(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    letters = "abcdefghijlmnopqrstuvéèêàâçîïôûù"
    return ["".join(rng.choice(letters) for _ in range(30)) for _ in range(count)]


@pytest.mark.parametrize("form", ["NFC", "NFD"])
def test_thirty_character_french_words_are_never_cut(form: Literal["NFC", "NFD"]) -> None:
    words = [unicodedata.normalize(form, w) for w in french_words(20, 6)]
    text = " ".join(words)

    found = assert_thread(text, split_into_posts(text))

    # 8 words weigh 8 * 30 + 7 = 247, a ninth would make 278 > 274: X counts NFC, so the
    # decomposed accents (two code points each) must not cost more posts.
    assert [len(body.split()) for body in found] == [8, 8, 4]
    assert " ".join(found) == text


def test_an_over_long_word_is_cut_by_characters() -> None:
    word = "a" * 700

    found = assert_thread(word, split_into_posts(word))

    assert "".join(found) == word
    assert [len(body) for body in found] == [274, 274, 152]


def test_a_cut_inside_a_word_spares_emoji_and_urls() -> None:
    family = "👨\u200d👩\u200d👧"
    url = "https://example.com/un/chemin/assez/long"
    word = family * 100 + "x" * 100 + f"«{url}»" + "y" * 300
    assert extract_urls(word) == [url]

    found = assert_thread(word, split_into_posts(word))

    assert "".join(found) == word
    assert sum(url in body for body in found) == 1
    assert "".join(found).count(family) == 100
    assert sum(body.count(family) for body in found) == 100


def test_unnumbered_split() -> None:
    parts = split_into_posts(ANSWER, numbered=False)
    assert len(parts) >= 3
    assert all(weighted_length(part) <= X_MAX_WEIGHTED for part in parts)
    assert not any(NUMBERING.search(part) for part in parts)
    assert " ".join(parts) == collapse(ANSWER)


def test_numbering_stays_consistent_when_the_total_gains_a_digit() -> None:
    text = sentence(120, 7)
    parts = split_into_posts(text, limit=60)
    assert len(parts) >= 10
    found = assert_thread(text, parts, limit=60)
    assert " ".join(found) == text


def test_a_limit_too_small_for_a_url_raises() -> None:
    with pytest.raises(ValueError, match="no room"):
        split_into_posts("see https://example.com/the/plan and " + "more " * 10, limit=25)


@pytest.mark.parametrize("text", ["", "   ", "\n\t \u00a0\n"])
def test_blank_text_raises(text: str) -> None:
    with pytest.raises(ValueError, match="some text"):
        split_into_posts(text)


LATIN = "abcdefghijklmnopqrstuvwxyzéèàçôœ"
CJK = "日本語中文漢字東京大阪会社社長質問回答ありがとうございますカタカナ"
EMOJI = ["😷", "👍🏽", "👨\u200d👩\u200d👧", "🇫🇷", "❤️", "🎉"]


def random_token(rng: random.Random) -> str:
    kind = rng.choices(
        ["word", "cjk", "emoji", "url", "bare_url", "long", "end"],
        weights=[60, 10, 6, 4, 2, 1, 12],
    )[0]
    if kind == "word":
        word = "".join(rng.choice(LATIN) for _ in range(rng.randint(1, 12)))
        return word.capitalize() if rng.random() < 0.1 else word
    if kind == "cjk":
        return "".join(rng.choice(CJK) for _ in range(rng.randint(1, 60))) + rng.choice(["", "。"])
    if kind == "emoji":
        return rng.choice(EMOJI)
    if kind == "url":
        path = "/".join("".join(rng.choice(LATIN[:26]) for _ in range(8)) for _ in range(5))
        return f"https://example{rng.randint(1, 9)}.com/{path[: rng.randint(0, 45)]}"
    if kind == "bare_url":
        return f"exemple{rng.randint(1, 9)}.fr"
    if kind == "long":
        return "".join(rng.choice(LATIN) for _ in range(rng.randint(100, 400)))
    return rng.choice([".", " ?", " !", "…", ".\n\n", "\n"])


def random_text(rng: random.Random) -> str:
    text = ""
    for _ in range(rng.randint(1, 120)):
        token = random_token(rng)
        text += token if token[0] in ".…?!\n " else f" {token}"
    return text


def test_invariants_hold_for_generated_texts() -> None:
    rng = random.Random(20260223)
    threads = 0
    for _ in range(200):
        text = random_text(rng)
        if not text.strip():
            continue
        parts = split_into_posts(text)
        assert_thread(text, parts)
        threads += len(parts) > 1
    # The generator does exercise threads, not only single posts.
    assert threads > 100
