"""Triage of incoming posts: category, language, duplicate groups. Offline, in-process.

- **Category:** a logistic regression over word and character n-grams of the post, trained at
  first use from ``data/train.jsonl`` (posts written and labelled for Tribune, never the
  evaluation set in eval/). Character n-grams carry French and English alike, typos and
  SMS spelling included; a few marks computed from the raw post (a link, a pile of hashtags,
  a question mark, money) are added as words, so the model weighs them with the rest. Trained
  in about a second; no pickled model to trust or to keep in step with scikit-learn. Its
  probabilities are computed by hand from the fitted parts (``Classifier.probabilities``), a
  tenth of a millisecond for one post.
- **Language:** langid's model (in the py3langid wheel), restricted to the languages triage
  is trained in (French and English), on the text without links, mentions and hashtags.
- **Duplicates:** posts that are likely duplicates on average are grouped (agglomerative
  clustering, average linkage), the likelihood of each pair given by a logistic regression
  trained at first use on the groups of the training set and of ``data/groups.jsonl``
  (``PairModel``). That second file is for the pair model alone (the category model never
  reads it): groups written to be hard, the same question in few shared words or in the other
  language, beside near misses of the same show (same theme, another question). The model
  weighs several similarities of two posts (``pair_features``): of their topic words, where
  a word found in the bilingual lexicon (``data/lexicon.jsonl``: "agence", "branch" and
  "branches" are one concept) counts as its concept, so the same question meets itself across
  French and English, and any other word as its lemma (simplemma's dictionaries: "voyageurs"
  is "voyageur"); of their concepts alone; of their character n-grams, which catch the
  spellings in between; the numbers, hashtags and handles they share; their lengths,
  languages and categories. A show's own hashtags ("#AskClairval") are no topic word: the
  names and handles weigh the show. Questions, complaints and rumours are clustered together
  unless the model is sure they differ in kind; spam is grouped apart, only when reposted, on
  the topic words' similarity (show hashtags included) at a stricter threshold.
"""

import json
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any, Protocol

import numpy as np
import simplemma
from py3langid.langid import MODEL_FILE, LanguageIdentifier
from scipy import sparse
from sklearn.cluster import AgglomerativeClustering
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from app.triage.schemas import Category, Post, Verdict

# Languages a post may be identified as: those triage is trained in. Open to all of langid's
# 97, a short post ("ok merci", "lol") reads as Dutch or Italian more often than not.
LANGUAGES = ("fr", "en")
# Categories whose posts are grouped when alike. Praise and chit-chat need no merged answer.
GROUPED = frozenset({Category.question, Category.complaint, Category.rumour, Category.spam})
# Average probability of being duplicates (``PairModel``) within which posts are one group.
# Chosen on the training set, never on eval/: pairwise F1 with the categories the model
# predicts for posts it was not trained on, the pair model trained on the other four fifths
# and data/groups.jsonl (python -m app.triage.evaluate --cross-validate
# app/triage/data/train.jsonl), is 0.81-0.83 from 0.16 to 0.32, at its best (0.832) at 0.28;
# data/dev.jsonl, posts of shows neither model has seen (python -m app.triage.evaluate
# --tune app/triage/data/dev.jsonl), is 0.950 from 0.10 to 0.30.
SAME_QUESTION = 0.28
# The pair model's regularisation (scikit-learn's C). Chosen with --cross-validate like
# SAME_QUESTION: weaker (10) or stronger (0.1) both cost the training set's pairwise F1.
PAIR_C = 1.0
# The pair model's features, in its columns' order (see ``pair_features``).
PAIR_FEATURES = (
    "terms",
    "concepts",
    "other_terms",
    "characters",
    "shared_concepts",
    "shared_others",
    "shared_numbers",
    "shared_tags",
    "shared_names",
    "other_names",
    "fewer_terms",
    "more_terms",
    "one_language",
    "same_category",
    "sure_apart",
    "concepts_across_languages",
    "terms_across_languages",
    "concept_share",
    "shared_rarity",
    "unshared_concepts",
)
# Spam is merged only when the same message is reposted (two scams of one kind are two posts):
# a stricter similarity, chosen on the training set with --tune as well.
SAME_REPOST = 0.4
# Share of the character n-grams' similarity in ``similarities`` (the rest is the topic
# terms'), on which spam reposts are grouped.
CHARACTERS = 0.1
# A category this probable is taken as sure: two posts sure of different categories are never
# one group (a question beside the complaints about the same outage). Below it, the text
# decides. Chosen with --cross-validate.
SURE = 0.9
_APART = 1e6
# How much a missed complaint costs against a wrong one: a complaint left on the stage queue
# waits past its SLA, a question sent to the desk is moved back in one click. Its probability
# is weighted by this before the most likely category is taken. The largest weight that cost
# the training set's cross-validated macro-F1 no more than 0.005 (python -m
# app.triage.evaluate --cross-validate app/triage/data/train.jsonl).
COMPLAINT_WEIGHT = 1.2

_URL = re.compile(r"https?://\S+|www\.\S+|\b[\w-]+\.(?:com|org|net|io|ly|fr|example)\S*", re.I)
_MENTION = re.compile(r"@\w+")
_HASHTAG = re.compile(r"#(\w+)")
_MONEY = re.compile(r"[€$£]|\b\d+\s?(?:€|eur|euros?|k€|dollars?|usd)\b", re.I)
_DIGITS = re.compile(r"\d+")
_WORD = re.compile(r"\w+")
# A number as written, with what sticks to it ("40%", "sk482", "72h"): the same one in two
# posts is often the same incident or the same announcement.
_NUMBER = re.compile(r"\w*\d[\w%€]*")
_TAG = re.compile(r"[#@](\w+)")
# A capitalised word, or a part of a hashtag or handle in camel case ("#AskReelvia").
_CAPITALISED = re.compile(r"[A-ZÀ-Ý][a-zà-ÿ]{3,}")
# Hashtags' parts that name no show.
_TAG_WORDS = frozenset(["ask", "live", "question", "questions"])
_SPACES = re.compile(r"\s+")
# Words that carry no topic: left out when comparing two posts for duplicates.
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "at",
        "for",
        "with",
        "from",
        "by",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "you",
        "your",
        "yours",
        "we",
        "our",
        "us",
        "i",
        "me",
        "my",
        "mine",
        "he",
        "she",
        "they",
        "them",
        "their",
        "there",
        "here",
        "do",
        "does",
        "did",
        "will",
        "would",
        "can",
        "could",
        "should",
        "shall",
        "may",
        "might",
        "must",
        "have",
        "has",
        "had",
        "not",
        "no",
        "yes",
        "so",
        "if",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "how",
        "all",
        "any",
        "some",
        "more",
        "most",
        "very",
        "just",
        "also",
        "than",
        "then",
        "too",
        "le",
        "la",
        "les",
        "un",
        "une",
        "des",
        "du",
        "de",
        "d",
        "l",
        "et",
        "ou",
        "mais",
        "au",
        "aux",
        "en",
        "dans",
        "sur",
        "pour",
        "par",
        "avec",
        "sans",
        "ce",
        "cet",
        "cette",
        "ces",
        "vous",
        "votre",
        "vos",
        "nous",
        "notre",
        "nos",
        "je",
        "j",
        "me",
        "m",
        "mon",
        "ma",
        "mes",
        "tu",
        "te",
        "t",
        "ton",
        "ta",
        "tes",
        "il",
        "elle",
        "ils",
        "elles",
        "on",
        "leur",
        "leurs",
        "y",
        "est",
        "sont",
        "etait",
        "ete",
        "etre",
        "a",
        "ont",
        "avez",
        "avons",
        "ai",
        "as",
        "fait",
        "faire",
        "ne",
        "pas",
        "plus",
        "que",
        "qui",
        "quoi",
        "quand",
        "ou",
        "comment",
        "pourquoi",
        "est-ce",
        "c",
        "ca",
        "cela",
        "tout",
        "tous",
        "toute",
        "toutes",
        "tres",
        "aussi",
        "alors",
        "si",
        "se",
        "s",
        "sa",
        "son",
        "ses",
        # Words of every complaint and every rumour, whatever its topic: alike in two posts,
        # they say nothing of whether the posts are duplicates.
        "about",
        "after",
        "before",
        "into",
        "out",
        "over",
        "under",
        "again",
        "still",
        "already",
        "only",
        "same",
        "other",
        "others",
        "every",
        "since",
        "ago",
        "time",
        "times",
        "get",
        "got",
        "going",
        "says",
        "said",
        "heard",
        "true",
        "really",
        "anyone",
        "else",
        "please",
        "pls",
        "one",
        "two",
        "encore",
        "toujours",
        "deja",
        "depuis",
        "apres",
        "avant",
        "fois",
        "chaque",
        "quel",
        "quelle",
        "quels",
        "quelles",
        "vrai",
        "vraiment",
        "parait",
        "dit",
        "dire",
        "quelqu",
        "meme",
        "autre",
        "autres",
        "rien",
        "aucun",
        "aucune",
        "ni",
        "non",
        "oui",
        "va",
        "vont",
        "peut",
        "peux",
        "pouvez",
        "faut",
        "chez",
        "pk",
        "svp",
        "stp",
        "deux",
        # Words that frame a question or a rumour, whatever its topic: why, is it true, explain.
        "explain",
        "explanation",
        "expliquer",
        "expliquez",
        "explication",
        "explications",
        "justify",
        "justification",
        "justifier",
        "justifie",
        "reason",
        "raison",
        "confirm",
        "confirmer",
        "confirmez",
        "deny",
        "dementir",
        "truth",
        "real",
        "fake",
        "faux",
        "intox",
        "rumour",
        "rumor",
        "rumeur",
        "genuinely",
        "actually",
        "exactly",
        "exactement",
        "exact",
        "exacte",
        "concretement",
        "curious",
        "wondering",
        "know",
        "savoir",
        "sait",
        "anything",
        "something",
        "quelque",
        "chose",
    ]
)


# The commonest words of each language, for ``_frenchness``; words both share ("a", "on")
# are in neither.
_FRENCH = frozenset(
    [
        "le",
        "la",
        "les",
        "un",
        "une",
        "des",
        "du",
        "de",
        "et",
        "est",
        "je",
        "vous",
        "pour",
        "pas",
        "que",
        "qui",
        "sur",
        "avec",
        "mon",
        "ma",
        "mes",
        "dans",
        "ce",
        "cette",
        "au",
        "aux",
        "ca",
        "c",
        "quand",
        "pourquoi",
        "combien",
        "il",
        "elle",
        "nous",
        "ils",
        "sont",
        "ai",
        "va",
    ]
)
_ENGLISH = frozenset(
    [
        "the",
        "an",
        "and",
        "is",
        "are",
        "i",
        "you",
        "for",
        "not",
        "that",
        "who",
        "with",
        "my",
        "in",
        "this",
        "to",
        "of",
        "why",
        "when",
        "how",
        "what",
        "will",
        "can",
        "do",
        "does",
        "it",
        "we",
        "they",
        "be",
        "was",
        "have",
        "has",
    ]
)


def fold(text: str) -> str:
    """Lower case without accents: "Ça coûte" and "ca coute" read the same."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def features_text(text: str) -> str:
    """The text the model reads: folded, links and mentions as placeholders, hashtags as
    words, and marks for what the raw post shows (see the module's docstring)."""
    marks = []
    links = _URL.findall(text)
    if links:
        marks.append("zzlink")
    if len(_HASHTAG.findall(text)) >= 4:
        marks.append("zzhashtags")
    if "?" in text:
        marks.append("zzquestion")
    if _MONEY.search(text):
        marks.append("zzmoney")
    letters = [c for c in _MENTION.sub("", _URL.sub("", text)) if c.isalpha()]
    if len(letters) >= 12 and sum(c.isupper() for c in letters) > 0.6 * len(letters):
        marks.append("zzshouting")
    body = _URL.sub(" zzurl ", text)
    body = _MENTION.sub(" zzuser ", body)
    body = _HASHTAG.sub(r" \1 ", body)
    body = _DIGITS.sub("0", fold(body))
    return _SPACES.sub(" ", f"{body} {' '.join(marks)}").strip()


# Posts whose topic words, names and language ``pair_features`` keeps: the stage compares each
# batch with a LiveEvent's latest questions, the same ones batch after batch.
_REMEMBERED = 4096


# The words of a hashtag written in camel case ("#AskClairval", "#ClairvalLive").
_CAMEL = re.compile(r"[A-ZÀ-Ý][a-zà-ÿ]+")


def _hashtag_words(match: re.Match[str]) -> str:
    # A hashtag of several capitalised words is the show's ("#AskClairval", "#ClairvalLive"):
    # left out, like handles, since names() and other_shows() weigh the show, and two posts
    # with two of a show's tags would otherwise share no term for it while two with the same
    # one share a rare term (train CV pairwise F1 0.825 -> 0.832). A hashtag of one word
    # ("#grève", "#SNCF") is a word of the post.
    tag = match.group(1)
    return " " if len(_CAMEL.findall(tag)) > 1 else f" {tag} "


def _hashtag(match: re.Match[str]) -> str:
    return f" {match.group(1)} "


@lru_cache(maxsize=_REMEMBERED)
def topic_text(text: str, show_tags: bool = False) -> str:
    """The words two duplicates share: no links, mentions, show hashtags (``_hashtag_words``;
    kept as words with ``show_tags``, for spam), other hashtags' '#', or stop words; the
    lexicon's phrases ("en ligne", "laid off") made one word each; a word the lexicon does not
    know as its lemma ("voyageurs" as "voyageur", "delayed" as "delay", see ``_lemma``)."""
    tags = _hashtag if show_tags else _hashtag_words
    body = _HASHTAG.sub(tags, _MENTION.sub(" ", _URL.sub(" ", text)))
    words = _WORD.findall(lexicon().join(fold(body)))
    # Lemmas are looked up on the words as written: the dictionaries are accented, and
    # "remboursée" has a lemma where "remboursee" has none.
    french = _frenchness(text) >= 0
    lemmas = {fold(w): _lemma(w, french) for w in _WORD.findall(body.casefold())}
    kept = (w if w in _STOPWORDS or _known(w) else lemmas.get(w, w) for w in words)
    # Again after lemmas: "am" and "being" are "be".
    return " ".join(w for w in kept if w not in _STOPWORDS and len(w) > 1)


@dataclass(frozen=True, slots=True)
class Example:
    text: str
    category: Category


def load_examples(lines: Iterable[str]) -> list[Example]:
    """Labelled posts from JSON lines with ``text`` and ``category`` (extra keys ignored)."""
    examples = []
    for line in lines:
        if line.strip():
            row = json.loads(line)
            examples.append(Example(str(row["text"]), Category(row["category"])))
    return examples


class Classifier:
    """The category model: word 1-2-grams and character 2-5-grams, TF-IDF, one logistic
    regression; classes weighted by their rarity, so spam and rumours are not drowned out."""

    def __init__(
        self, examples: Sequence[Example], complaint_weight: float = COMPLAINT_WEIGHT
    ) -> None:
        if len({e.category for e in examples}) < 2:
            raise ValueError("training needs examples of at least two categories")
        self._pipeline = Pipeline(
            [
                (
                    "features",
                    FeatureUnion(
                        [
                            (
                                "words",
                                TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
                            ),
                            (
                                "chars",
                                TfidfVectorizer(
                                    analyzer="char_wb",
                                    ngram_range=(2, 5),
                                    sublinear_tf=True,
                                    min_df=2,
                                ),
                            ),
                        ]
                    ),
                ),
                (
                    "model",
                    LogisticRegression(C=20.0, class_weight="balanced", max_iter=5000),
                ),
            ]
        )
        self._pipeline.fit(
            [features_text(e.text) for e in examples], [e.category.value for e in examples]
        )
        self._classes = [Category(c) for c in self._pipeline.classes_]
        self._weights = np.array(
            [complaint_weight if c is Category.complaint else 1.0 for c in self._classes]
        )
        # The fitted parts, read once for ``probabilities``: per vectorizer its analyzer,
        # vocabulary, IDF and columns of the model's coefficients.
        model: LogisticRegression = self._pipeline.named_steps["model"]
        self._intercept = np.asarray(model.intercept_, dtype=np.float64)
        self._parts: list[tuple[Callable[[str], list[str]], dict[str, int], Any, Any]] = []
        offset = 0
        for _, vectorizer in self._pipeline.named_steps["features"].transformer_list:
            size = len(vectorizer.vocabulary_)
            coef = np.ascontiguousarray(model.coef_[:, offset : offset + size].T)
            self._parts.append(
                (vectorizer.build_analyzer(), vectorizer.vocabulary_, vectorizer.idf_, coef)
            )
            offset += size

    @property
    def classes(self) -> list[Category]:
        return list(self._classes)

    def probabilities(self, texts: Sequence[str]) -> Any:
        """The model's probability of each category (columns in ``classes`` order).

        The same sums as the pipeline's ``predict_proba`` (sublinear TF x IDF, L2-normalised
        per vectorizer, then the softmax of the linear model), done by hand over the n-grams
        the post has: scikit-learn's input checks cost a post ten times the arithmetic, and a
        live triages its posts one by one (tests/triage checks both agree)."""
        logits = np.tile(self._intercept, (len(texts), 1))
        for row, text in enumerate(texts):
            body = features_text(text)
            for analyzer, vocabulary, idf, coef in self._parts:
                counts = Counter(
                    index for gram in analyzer(body) if (index := vocabulary.get(gram)) is not None
                )
                if not counts:
                    continue
                columns = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
                tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
                values = (np.log(tf) + 1.0) * idf[columns]
                values /= np.sqrt(values @ values)
                logits[row] += values @ coef[columns]
        logits -= logits.max(axis=1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=1, keepdims=True)

    def pipeline_probabilities(self, texts: Sequence[str]) -> Any:
        """``probabilities`` by scikit-learn's own pipeline: the reference it must match."""
        return self._pipeline.predict_proba([features_text(t) for t in texts])

    def predict(self, texts: Sequence[str]) -> list[tuple[Category, float]]:
        """Each text's category (the most likely once complaints are weighted, see
        ``COMPLAINT_WEIGHT``) and the model's probability of it."""
        if not texts:
            return []
        probabilities = self.probabilities(texts)
        best = np.argmax(probabilities * self._weights, axis=1)
        return [
            (self._classes[int(i)], round(float(row[int(i)]), 3))
            for i, row in zip(best, probabilities, strict=True)
        ]


@cache
def classifier() -> Classifier:
    """The model trained on the bundled training set, once per process."""
    data = resources.files("app.triage").joinpath("data/train.jsonl")
    return Classifier(load_examples(data.read_text(encoding="utf-8").splitlines()))


@cache
def _identifier() -> LanguageIdentifier:
    identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def language(text: str) -> str:
    """The post's language (ISO 639-1), from its words alone."""
    body = _HASHTAG.sub(" ", _MENTION.sub(" ", _URL.sub(" ", text)))
    if not re.search(r"\w", body):
        body = text
    # Lower case: langid's n-grams were learnt from running text, and a post in capitals
    # ("WIN 5000€ NOW") reads as another language.
    lang, _ = _identifier().classify(body.lower())
    return str(lang)


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Topic words of both languages mapped to shared concepts. A word ending in "*" is a
    prefix ("fermetur*" covers "fermeture" and "fermetures"); an entry of several words is a
    phrase ("en ligne", "laid off"), which a post's words must follow in order; matching is
    on folded words."""

    exact: dict[str, tuple[str, ...]]
    prefixes: tuple[tuple[str, str], ...]  # longest first
    # The phrases, longest first, as one pattern over folded text (None without phrases).
    phrases: re.Pattern[str] | None = None

    @classmethod
    def from_lines(cls, lines: Iterable[str]) -> "Lexicon":
        exact: dict[str, list[str]] = {}
        prefixes: list[tuple[str, str]] = []
        phrases: list[list[str]] = []
        for line in lines:
            if not line.strip():
                continue
            row = json.loads(line)
            concept = str(row["concept"])
            for word in row["words"]:
                word = fold(str(word))
                if word.endswith("*"):
                    prefixes.append((word[:-1], concept))
                    continue
                parts = _WORD.findall(word)
                if len(parts) > 1:
                    phrases.append(parts)
                exact.setdefault("_".join(parts), []).append(concept)
        prefixes.sort(key=lambda p: -len(p[0]))
        pattern = None
        if phrases:
            # Words of a phrase may be apart by spaces, an apostrophe or a hyphen.
            alternatives = sorted({r"\W+".join(map(re.escape, p)) for p in phrases}, key=len)
            pattern = re.compile(r"\b(?:" + "|".join(reversed(alternatives)) + r")\b")
        return cls({w: tuple(c) for w, c in exact.items()}, tuple(prefixes), pattern)

    def join(self, folded: str) -> str:
        """``folded`` with each of the lexicon's phrases made one word ("en_ligne")."""
        if self.phrases is None:
            return folded
        return self.phrases.sub(lambda m: "_".join(_WORD.findall(m.group(0))), folded)

    def concepts(self, word: str) -> tuple[str, ...]:
        found = list(self.exact.get(word, ()))
        for prefix, concept in self.prefixes:
            if word.startswith(prefix) and concept not in found:
                found.append(concept)
        return tuple(found)


@cache
def lexicon() -> Lexicon:
    """The bundled bilingual lexicon of the topics audiences raise (see data/lexicon.jsonl)."""
    data = resources.files("app.triage").joinpath("data/lexicon.jsonl")
    return Lexicon.from_lines(data.read_text(encoding="utf-8").splitlines())


@lru_cache(maxsize=65536)
def _lemma(word: str, french: bool) -> str:
    # simplemma's bundled dictionaries (and its rules for words they lack), the post's own
    # language first: read as French, "cancelled" is a word no dictionary has. Lemmas rather
    # than words cut to five letters raised the training set's cross-validated pairwise F1
    # from 0.811 to 0.822 at SAME_QUESTION, all else unchanged.
    languages = ("fr", "en") if french else ("en", "fr")
    return fold(simplemma.lemmatize(word, lang=languages))


def _known(word: str) -> bool:
    return _topic_terms(word)[0].startswith("c:")


@cache
def _topic_terms(word: str) -> tuple[str, ...]:
    # Cached per word: a live's vocabulary is small, and the prefix scan is the slow part.
    concepts = lexicon().concepts(word)
    return tuple(f"c:{c}" for c in concepts) if concepts else (word,)


def stems(text: str, show_tags: bool = False) -> str:
    """Topic terms of a post (``topic_text``): a lexicon concept ("c:close" for "fermeture",
    "fermez", "closing" or "closed") where the lexicon knows the word, else its lemma."""
    words = topic_text(text, show_tags).split()
    return " ".join(term for word in words for term in _topic_terms(word))


def similarities(texts: Sequence[str]) -> Any:
    """Cosine similarity (0-1) of each pair of posts: TF-IDF of their topic terms (see
    ``stems``), blended with ``CHARACTERS`` of their topic words' character 3-5-grams, which
    meet where spelling differs ("remboursement"/"remboursé", "fibre"/"fiber") and the
    lexicon does not reach. Spam reposts are grouped on it; other posts on ``PairModel``.
    Show hashtags count here: without them, two short scams of one kind meet (the training
    set's spam pairwise F1 at SAME_REPOST, 0.950, fell to 0.884)."""
    terms = _cosines(
        TfidfVectorizer(sublinear_tf=True, analyzer=str.split),
        [stems(t, show_tags=True) for t in texts],
    )
    characters = _cosines(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True),
        [topic_text(t, show_tags=True) for t in texts],
    )
    return (1.0 - CHARACTERS) * terms + CHARACTERS * characters


def _cosines(vectorizer: TfidfVectorizer | CountVectorizer, documents: Sequence[str]) -> Any:
    """Each pair's dot product of ``vectorizer``'s rows: a cosine for TF-IDF, a count of
    shared terms for a binary ``CountVectorizer``. Zero where no document has a term."""
    try:
        matrix = vectorizer.fit_transform(documents)
    except ValueError:  # an empty vocabulary: nothing in common
        return np.zeros((len(documents), len(documents)))
    return (matrix @ matrix.T).toarray()


@lru_cache(maxsize=_REMEMBERED)
def _frenchness(text: str) -> float:
    """From -1 (English) to 1 (French), by the commonest words of each: a cross-language
    pair shares fewer terms than a same-language one for the same question, and the pair
    model needs to know which it is looking at. Cheaper than langid on every post again."""
    words = _WORD.findall(fold(text))
    french = sum(w in _FRENCH for w in words)
    english = sum(w in _ENGLISH for w in words)
    return (french - english) / (french + english) if french + english else 0.0


# The character n-grams of topic words that ``pair_features`` compares.
_GRAMS = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).build_analyzer()


@dataclass(frozen=True, slots=True)
class Background:
    """How many posts of a corpus have each topic term (see ``stems``) and each character
    n-gram of their topic words. A term's rarity is judged on the corpus and the batch
    together, so that two posts alone in a batch (a live's first questions) are weighed as
    they would be in a crowd: by the batch alone, every word they share is in all its posts,
    and so as common as a word can be."""

    posts: int
    terms: dict[str, int]
    grams: dict[str, int]

    @classmethod
    def of(cls, texts: Iterable[str]) -> "Background":
        terms: Counter[str] = Counter()
        grams: Counter[str] = Counter()
        count = 0
        for text in texts:
            count += 1
            terms.update(set(stems(text).split()))
            grams.update(set(_GRAMS(topic_text(text))))
        return cls(count, dict(terms), dict(grams))


_NO_BACKGROUND = Background(0, {}, {})


@lru_cache(maxsize=_REMEMBERED)
def _grams(topic: str) -> tuple[str, ...]:
    return tuple(_GRAMS(topic))


def _weigh(documents: Sequence[Sequence[str]], seen: dict[str, int], corpus: int) -> Any:
    """TF-IDF rows (sublinear TF, L2-normalised), which terms each document has, and each
    term's rarity (its IDF less one, as a share of the largest possible), with document
    frequencies counted in the batch and in a background corpus of ``corpus`` posts
    (``seen``)."""
    vocabulary: dict[str, int] = {}
    rows: list[int] = []
    columns: list[int] = []
    counts: list[int] = []
    for row, document in enumerate(documents):
        for term, count in Counter(document).items():
            rows.append(row)
            columns.append(vocabulary.setdefault(term, len(vocabulary)))
            counts.append(count)
    shape = (len(documents), len(vocabulary))
    present = sparse.csr_matrix((np.ones(len(rows)), (rows, columns)), shape=shape)
    frequency = np.asarray(present.sum(axis=0)).ravel() + np.array(
        [seen.get(term, 0) for term in vocabulary], dtype=np.float64
    )
    total = len(documents) + corpus
    idf = np.log((1.0 + total) / (1.0 + frequency)) + 1.0
    values = (np.log(np.asarray(counts, dtype=np.float64)) + 1.0) * idf[columns]
    weighted = sparse.csr_matrix((values, (rows, columns)), shape=shape)
    norms = np.sqrt(np.asarray(weighted.multiply(weighted).sum(axis=1)).ravel())
    weighted = sparse.diags(1.0 / np.maximum(norms, 1e-12)) @ weighted
    rarity = (idf - 1.0) / np.log(1.0 + total) if total > 1 else idf * 0.0
    return weighted, present, rarity


def _cosine(weighted: Any) -> Any:
    return np.asarray((weighted @ weighted.T).todense())


@lru_cache(maxsize=_REMEMBERED)
def tag_names(text: str) -> frozenset[str]:
    """The ``names`` in the post's hashtags and handles alone ("#AskOrsane", "@BanqueOrsane":
    "orsane", "banque"): the show it was written to, most often."""
    return names(" ".join(f"#{tag}" for tag in _TAG.findall(text)))


def other_shows(texts: Sequence[str]) -> Any:
    """Pairs of posts written to two shows (n, n booleans): both are tagged (hashtags,
    handles), and neither names the show the other is tagged for. "#AskOrsane" and
    "@BanqueOrsane" are one show; "#AskOrsane" and "#RailexaLive" two. A LiveEvent's posts
    are triaged together, but a batch may hold several (and the evaluation set does)."""
    tagged = [" ".join(tag_names(t)) for t in texts]
    has_tags = np.array([bool(t) for t in tagged])
    if has_tags.sum() < 2:
        return np.zeros((len(texts), len(texts)), dtype=bool)
    named = [" ".join(names(t)) for t in texts]
    vectorizer = CountVectorizer(analyzer=str.split, binary=True).fit(tagged)
    tags, named_tags = vectorizer.transform(tagged), vectorizer.transform(named)
    # Names are a superset of tag names, so this counts shared tags too.
    meet = (tags @ named_tags.T).toarray()
    return (meet + meet.T == 0) & has_tags[:, None] & has_tags[None, :]


@lru_cache(maxsize=_REMEMBERED)
def names(text: str) -> frozenset[str]:
    """The post's capitalised words of four letters or more that are neither stop words nor
    lexicon concepts, hashtags' and handles' parts included: mostly the brands, places and
    products it names (and the first word of a sentence, which the pair model weighs with
    the rest)."""
    body = _URL.sub(" ", text)
    found = set()
    for word in _CAPITALISED.findall(body):
        folded = fold(word)
        concept = _topic_terms(folded)[0].startswith("c:")
        if folded not in _STOPWORDS and folded not in _TAG_WORDS and not concept:
            found.add(folded)
    return frozenset(found)


def pair_features(
    texts: Sequence[str],
    categories: Sequence[Category],
    sure: Sequence[bool],
    background: Background = _NO_BACKGROUND,
) -> Any:
    """What ``PairModel`` weighs for each pair of posts, an array (n, n, len(PAIR_FEATURES)):
    how alike their topic terms are as a whole, as lexicon concepts alone (which carry a
    question across languages) and as other words, their character n-grams; how many
    concepts, other terms, numbers ("40%", "SK482"), hashtags or handles and names they share,
    and how rare the terms they share are; how many concepts one has and the other not (two
    questions on one theme differ there); how long they are (two long posts share words by
    chance); whether they are in one language (a cross-language pair meets through concepts
    alone); and their categories. Terms' rarity is counted in the batch and in
    ``background``."""
    n = len(texts)
    topics = [topic_text(t) for t in texts]
    terms = [[term for word in topic.split() for term in _topic_terms(word)] for topic in topics]
    concepts = [[w for w in t if w.startswith("c:")] for t in terms]
    others = [[w for w in t if not w.startswith("c:")] for t in terms]
    corpus = background.posts
    every, present, rarity = _weigh(terms, background.terms, corpus)
    all_terms = _cosine(every)
    shared_rarity = _cosine(present.multiply(rarity).tocsr().sqrt())
    concept_weights, concept_present, _ = _weigh(concepts, background.terms, corpus)
    concept_terms = _cosine(concept_weights)
    shared_concepts = _cosine(concept_present)
    other_weights, other_present, _ = _weigh(others, background.terms, corpus)
    other_terms = _cosine(other_weights)
    shared_others = _cosine(other_present)
    grams, _, _ = _weigh([_grams(topic) for topic in topics], background.grams, corpus)
    characters = _cosine(grams)

    def shared(documents: Sequence[str]) -> Any:
        return _cosines(CountVectorizer(analyzer=str.split, binary=True), documents)

    numbers = shared([" ".join(_NUMBER.findall(fold(t))) for t in texts])
    tags = shared([" ".join(fold(m) for m in _TAG.findall(t)) for t in texts])
    named = [" ".join(names(t)) for t in texts]
    shared_names = shared(named)
    has_names = np.array([bool(n) for n in named], dtype=np.float64)
    # Both posts name something and nothing alike: most often two shows' brands.
    other_names = (shared_names == 0) * has_names[:, None] * has_names[None, :]
    lengths = np.array([len(t) for t in terms], dtype=np.float64)
    fewer = np.minimum.outer(lengths, lengths)
    more = np.maximum.outer(lengths, lengths)
    french = np.sign([_frenchness(t) for t in texts])
    one_language = (french[:, None] * french[None, :] >= 0).astype(np.float64)
    kinds = np.array([c.value for c in categories])
    same_kind = (kinds[:, None] == kinds[None, :]).astype(np.float64)
    certain = np.asarray(sure, dtype=np.float64)
    sure_apart = (1.0 - same_kind) * certain[:, None] * certain[None, :]
    columns = {
        "terms": all_terms,
        "concepts": concept_terms,
        "other_terms": other_terms,
        "characters": characters,
        "shared_concepts": np.log1p(shared_concepts),
        "shared_others": np.log1p(shared_others),
        "shared_numbers": np.minimum(numbers, 2.0),
        "shared_tags": np.minimum(tags, 2.0),
        "shared_names": np.minimum(shared_names, 2.0),
        "other_names": other_names,
        "fewer_terms": np.log1p(fewer),
        "more_terms": np.log1p(more),
        "one_language": one_language,
        "same_category": same_kind,
        "sure_apart": sure_apart,
        "concepts_across_languages": concept_terms * (1.0 - one_language),
        "terms_across_languages": all_terms * (1.0 - one_language),
        "concept_share": shared_concepts / np.maximum(fewer, 1.0),
        "shared_rarity": shared_rarity,
        "unshared_concepts": np.log1p(
            np.add.outer(np.diag(shared_concepts), np.diag(shared_concepts)) - 2 * shared_concepts
        ),
    }
    return np.stack([columns[name] for name in PAIR_FEATURES], axis=-1).reshape(
        n, n, len(PAIR_FEATURES)
    )


@dataclass(frozen=True, slots=True)
class Grouped:
    """A labelled post for ``PairModel``: its text, category and duplicate group (or None)."""

    text: str
    category: Category
    group: str | None


def load_grouped(lines: Iterable[str]) -> list[Grouped]:
    """Labelled posts from JSON lines with ``text``, ``category`` and ``group``."""
    out = []
    for line in lines:
        if line.strip():
            row = json.loads(line)
            out.append(Grouped(str(row["text"]), Category(row["category"]), row["group"]))
    return out


class PairModel:
    """The probability that two posts are duplicates: a logistic regression over
    ``pair_features``, trained on every pair of the clustered categories' training posts
    (a pair is positive when both posts share a group), every training post the background
    of terms' rarity (``Background``). No single similarity carries every
    duplicate: a cross-language paraphrase meets through lexicon concepts alone, a repost
    through its characters and numbers, and how much each counts is learnt, not guessed."""

    def __init__(self, posts: Sequence[Grouped]) -> None:
        self.background = Background.of(p.text for p in posts)
        members = [p for p in posts if p.category in GROUPED and p.category is not Category.spam]
        features = pair_features(
            [p.text for p in members],
            [p.category for p in members],
            [True] * len(members),
            self.background,
        )
        upper = np.triu_indices(len(members), 1)
        groups = [p.group for p in members]
        duplicate = np.array(
            [groups[a] is not None and groups[a] == groups[b] for a, b in zip(*upper, strict=True)]
        )
        if duplicate.all() or not duplicate.any():
            raise ValueError("training needs pairs of duplicates and pairs of other posts")
        model = LogisticRegression(C=PAIR_C, max_iter=5000)
        model.fit(features[upper], duplicate)
        self._coef = np.asarray(model.coef_[0], dtype=np.float64)
        self._intercept = float(model.intercept_[0])

    @property
    def weights(self) -> dict[str, float]:
        return dict(zip(PAIR_FEATURES, self._coef.tolist(), strict=True))

    def probabilities(
        self, texts: Sequence[str], categories: Sequence[Category], sure: Sequence[bool]
    ) -> Any:
        """Each pair's probability of being duplicates (n, n), symmetric, 1 on the diagonal."""
        features = pair_features(texts, categories, sure, self.background)
        logits = features @ self._coef + self._intercept
        probabilities = 1.0 / (1.0 + np.exp(-logits))
        probabilities = (probabilities + probabilities.T) / 2.0
        np.fill_diagonal(probabilities, 1.0)
        return probabilities


@cache
def paraphrases() -> list[Grouped]:
    """The groups of data/groups.jsonl, which only the pair model learns from (see the module's
    docstring)."""
    data = resources.files("app.triage").joinpath("data/groups.jsonl")
    return load_grouped(data.read_text(encoding="utf-8").splitlines())


@cache
def pair_model() -> PairModel:
    """The duplicate model trained on the bundled training set's groups and ``paraphrases()``,
    once per process."""
    data = resources.files("app.triage").joinpath("data/train.jsonl")
    training = load_grouped(data.read_text(encoding="utf-8").splitlines())
    return PairModel([*training, *paraphrases()])


class PairScorer(Protocol):
    """What ``group`` asks of a duplicate model: ``PairModel``, or (evaluate's
    ``--whole-batch``) probabilities each scored by a model that learnt neither post."""

    def probabilities(
        self, texts: Sequence[str], categories: Sequence[Category], sure: Sequence[bool]
    ) -> Any: ...


def _clusters(similarity: Any, threshold: float) -> list[int]:
    # Average linkage: every member close to the group as a whole, not chained through one
    # look-alike.
    distance = np.clip(1.0 - similarity, 0.0, None)
    labels = AgglomerativeClustering(
        n_clusters=None,
        metric="precomputed",
        linkage="average",
        distance_threshold=1.0 - threshold,
    ).fit_predict(distance)
    return [int(label) for label in labels]


def group(
    texts: Sequence[str],
    categories: Sequence[Category],
    threshold: float = SAME_QUESTION,
    spam_threshold: float = SAME_REPOST,
    confidences: Sequence[float] | None = None,
    model: PairScorer | None = None,
) -> list[str | None]:
    """Duplicate groups: posts whose probability of being duplicates (``model``, by default
    ``pair_model()``) is on average at least ``threshold``; spam is grouped apart, on
    ``similarities`` at least ``spam_threshold``. Questions, complaints and rumours are
    clustered together, since the model mistakes one for another more often than two posts
    on one topic differ in kind; two posts of different categories are still kept apart when
    both categories are sure (``confidences`` above ``SURE``; without ``confidences``, every
    category is sure), and so are two posts tagged for two shows (``other_shows``). Ids are
    "g1", "g2"... in order of first post; a post like no other has None."""
    sure = [c > SURE for c in confidences] if confidences is not None else [True] * len(texts)
    cluster_of: list[tuple[str, int] | None] = [None] * len(texts)
    for family, limit in (("topic", threshold), ("spam", spam_threshold)):
        members = [
            i
            for i, c in enumerate(categories)
            if c in GROUPED and (c is Category.spam) == (family == "spam")
        ]
        topical = [bool(topic_text(texts[i], family == "spam")) for i in members]
        if sum(topical) < 2:
            continue
        kinds = [categories[i] for i in members]
        certain = [sure[i] for i in members]
        if family == "spam":
            similarity = similarities([texts[i] for i in members])
        else:
            similarity = (model or pair_model()).probabilities(
                [texts[i] for i in members], kinds, certain
            )
        values = np.array([k.value for k in kinds])
        flags = np.array(certain)
        apart = (values[:, None] != values[None, :]) & flags[:, None] & flags[None, :]
        if family == "topic":
            # A group never spans two shows (a spam repost does, under each show's hashtag).
            apart |= other_shows([texts[i] for i in members])
        # Far beyond any threshold, even averaged over two large clusters.
        similarity[apart] = -_APART
        for i, label, has_topic in zip(members, _clusters(similarity, limit), topical, strict=True):
            if has_topic:  # a post with no topic word (all stop words) is like no other
                cluster_of[i] = (family, label)
    sizes = Counter(c for c in cluster_of if c is not None)
    names: dict[tuple[str, int], str] = {}
    out: list[str | None] = []
    for cluster in cluster_of:
        if cluster is None or sizes[cluster] < 2:
            out.append(None)
            continue
        if cluster not in names:
            names[cluster] = f"g{len(names) + 1}"
        out.append(names[cluster])
    return out


def triage(posts: Sequence[Post]) -> list[Verdict]:
    """Category, confidence, language and duplicate group of each post, in order."""
    texts = [p.text for p in posts]
    predicted = classifier().predict(texts)
    groups = group(texts, [c for c, _ in predicted], confidences=[p for _, p in predicted])
    return [
        Verdict(
            id=post.id,
            category=category,
            confidence=confidence,
            lang=language(post.text),
            group=group_id,
        )
        for post, (category, confidence), group_id in zip(posts, predicted, groups, strict=True)
    ]
