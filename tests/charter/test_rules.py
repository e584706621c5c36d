"""Each rule of the editorial charter, on French and English answers: what it catches, what it
lets through, and how severe the charter says it is."""

import pytest
from pydantic import ValidationError

from app.charter.schemas import (
    AnswerTemplate,
    CharterIn,
    LinkPolicy,
    MaxLength,
    MentionPolicy,
    Network,
    RuleId,
    Severity,
    TemplateKind,
)
from app.charter.service import check, check_all, graphemes, render


def rules(
    charter: CharterIn, text: str, network: Network = Network.page, **kw: object
) -> list[str]:
    return [v.rule.value for v in check(charter, text, network, **kw)]  # type: ignore[arg-type]


DEFAULT = CharterIn()


@pytest.mark.parametrize(
    "text",
    [
        "NON, CE N'EST PAS VRAI. Nos agences restent ouvertes.",
        "THIS IS NOT TRUE: our branches stay open.",
    ],
)
def test_three_words_in_capitals_read_as_shouting(text: str) -> None:
    [violation] = check(DEFAULT, text, Network.page)
    assert violation.rule is RuleId.shouting
    assert violation.severity is Severity.soft
    assert violation.excerpt.isupper()
    assert len(violation.excerpt.split()) >= 3
    assert violation.start is not None
    assert text[violation.start : violation.end] == violation.excerpt


@pytest.mark.parametrize(
    "text",
    [
        "La BNP et la SNCF ont signé avec nous.",
        "Our ISO 27001 certificate covers the EU and the UK.",
        "À bientôt !",
    ],
)
def test_acronyms_are_not_shouting(text: str) -> None:
    assert RuleId.shouting.value not in rules(DEFAULT, text)


@pytest.mark.parametrize(
    ("text", "pile"),
    [("Merci pour votre fidélité ! ! !", "! ! !"), ("Great news!!!", "!!!")],
)
def test_a_pile_of_exclamation_marks(text: str, pile: str) -> None:
    [violation] = check(DEFAULT, text, Network.page)
    assert (violation.rule, violation.excerpt) == (RuleId.exclamations, pile)
    assert rules(DEFAULT, "Merci ! Bonne journée !") == []
    assert rules(CharterIn(max_exclamation_marks=3), text) == []


@pytest.mark.parametrize(
    ("text", "phrase"),
    [
        ("Comme je l\u2019ai déjà dit, les frais baissent.", "Comme je l\u2019ai déjà dit"),
        ("Calmez-vous, tout va bien.", "Calmez-vous"),
        ("Obviously, fees go down in May.", "Obviously"),
        ("Please calm   down, the app is back.", "calm   down"),
    ],
)
def test_dismissive_phrasing_whatever_the_case_spacing_or_apostrophe(
    text: str, phrase: str
) -> None:
    [violation] = check(DEFAULT, text, Network.page)
    assert (violation.rule, violation.severity, violation.excerpt) == (
        RuleId.dismissive,
        Severity.soft,
        phrase,
    )
    assert "dismissive" in violation.message


def test_dismissive_words_match_whole_words_only() -> None:
    # "obviousness" is not "obviously"; the list is the operator's to change.
    assert rules(DEFAULT, "The obviousness of it.") == []
    assert rules(CharterIn(dismissive_words=[]), "Obviously.") == []


def test_forbidden_words_are_hard_in_both_languages() -> None:
    charter = CharterIn(forbidden_words=["gratuit", "risk-free", "garanti"])
    found = check(charter, "C'est GRATUIT et garanti, totally risk-free.", Network.page)
    assert [(v.rule, v.severity, v.excerpt) for v in found] == [
        (RuleId.forbidden_word, Severity.hard, "GRATUIT"),
        (RuleId.forbidden_word, Severity.hard, "garanti"),
        (RuleId.forbidden_word, Severity.hard, "risk-free"),
    ]
    assert rules(charter, "Les frais sont garantis jusqu'en juin.") == []


def test_the_signature_must_end_the_answer() -> None:
    charter = CharterIn(signature="— AB")
    [missing] = check(charter, "Oui, dès lundi.", Network.page)
    assert (missing.rule, missing.severity) == (RuleId.signature, Severity.hard)
    assert "— AB" in missing.message
    assert rules(charter, "Yes, from Monday. — AB") == []
    assert rules(charter, "Oui, dès lundi.\n—AB  ") == []
    assert rules(charter, "— AB Oui, dès lundi.") == [RuleId.signature.value]
    assert rules(DEFAULT, "No signature needed.") == []


def test_length_per_network_counts_as_each_network_does() -> None:
    charter = CharterIn(max_length=MaxLength(x=20, mastodon=20, bluesky=5, page=30))
    url = "https://www.example.com/" + "a" * 60
    # X and Mastodon count a URL as 23 whatever its length: 23 > 20.
    assert rules(charter, url, Network.x) == ["length", "link_price"]
    assert rules(charter, url, Network.mastodon) == ["length"]
    # Bluesky counts graphemes: "é" decomposed, a family emoji and a flag are one each.
    assert graphemes("e\u0301👨‍👩‍👧🇫🇷ok") == 5
    assert rules(charter, "e\u0301👨‍👩‍👧🇫🇷ok", Network.bluesky) == []
    assert rules(charter, "e\u0301👨‍👩‍👧🇫🇷oké", Network.bluesky) == ["length"]
    # X weighs CJK characters 2.
    [x] = check(CharterIn(max_length=MaxLength(x=10)), "日本語のテキスト", Network.x)
    assert "16 weighted characters of 10" in x.message
    assert rules(charter, "x" * 31, Network.page) == ["length"]


def test_x_length_says_the_answer_becomes_a_thread() -> None:
    text = "Nos conseillers vous rappellent sous 48 heures. " * 8
    [violation] = check(DEFAULT, text, Network.x)
    assert violation.network is Network.x
    assert "thread of 2 posts" in violation.message
    assert rules(DEFAULT, text, Network.page) == []


def test_link_policy() -> None:
    text = "Voir https://www.bank.fr/frais et evil.com/promo"
    forbidden = CharterIn(link_policy=LinkPolicy.forbidden)
    assert [v.excerpt for v in check(forbidden, text, Network.page)] == [
        "https://www.bank.fr/frais",
        "evil.com/promo",
    ]
    listed = CharterIn(link_policy=LinkPolicy.listed, link_domains=["https://bank.fr/"])
    assert listed.link_domains == ["bank.fr"]
    [violation] = check(listed, text, Network.page)
    assert (violation.rule, violation.severity) == (RuleId.link, Severity.hard)
    assert "evil.com" in violation.message
    assert rules(listed, "Details: https://aide.bank.fr/x") == []
    assert rules(DEFAULT, text) == []


def test_x_price_of_a_link_is_a_warning_on_x_only() -> None:
    [price] = check(DEFAULT, "Details: https://bank.fr", Network.x)
    assert (price.rule, price.severity) == (RuleId.link_price, Severity.soft)
    assert "$0.20" in price.message
    assert "$0.015" in price.message
    assert rules(DEFAULT, "Details: https://bank.fr", Network.page) == []


def test_mention_policy() -> None:
    text = "Merci @Alice ! Voyez aussi @bob et @carol@mastodon.social, ou écrivez à aide@bank.fr"
    asker_only = CharterIn(mention_policy=MentionPolicy.asker_only)
    found = check(asker_only, text, Network.page, mentions_allowed=["alice"])
    assert [v.excerpt for v in found] == ["@bob", "@carol@mastodon.social"]
    assert all(v.severity is Severity.hard for v in found)
    none = CharterIn(mention_policy=MentionPolicy.none)
    assert len(check(none, text, Network.page, mentions_allowed=["alice"])) == 3
    assert rules(DEFAULT, text) == []


def test_mentions_of_the_asker_on_bluesky_and_mastodon() -> None:
    asker_only = CharterIn(mention_policy=MentionPolicy.asker_only)
    bluesky = "Thanks @alice.bsky.social. Ask @bob.bsky.social too."
    found = check(asker_only, bluesky, Network.bluesky, mentions_allowed=["alice.bsky.social"])
    assert [v.excerpt for v in found] == ["@bob.bsky.social"]
    # A Mastodon asker may be named with or without their instance.
    mastodon = "Merci @claire et @claire@piaille.fr."
    assert rules(asker_only, mastodon, mentions_allowed=["claire@piaille.fr"]) == []


def test_severity_is_the_charters() -> None:
    charter = CharterIn(
        severity={RuleId.shouting: Severity.hard, RuleId.dismissive: Severity.off},
        signature="— AB",
    )
    found = check(charter, "OBVIOUSLY NOT TRUE, obviously.", Network.page)
    assert [(v.rule, v.severity) for v in found] == [
        (RuleId.shouting, Severity.hard),
        (RuleId.signature, Severity.hard),
    ]
    # Rules not named keep their default severity.
    assert charter.severity[RuleId.forbidden_word] is Severity.hard


def test_rules_independent_of_the_network_are_reported_once() -> None:
    charter = CharterIn(signature="— AB")
    found = check_all(charter, "Hello!!!", [Network.page, Network.x])
    assert sorted(v.rule.value for v in found) == ["exclamations", "signature"]


def test_templates_fill_their_placeholders_and_refuse_unknown_ones() -> None:
    charter = CharterIn(signature="— AB")
    [rumour_fr] = [
        t for t in charter.templates if t.kind is TemplateKind.rumour and "fausse" in t.text
    ]
    text = render(rumour_fr, charter, "@alice")
    assert text.startswith("@alice Cette information est fausse")
    assert text.endswith("— AB")
    assert rules(charter, text) == []
    with pytest.raises(ValidationError, match="unknown placeholder"):
        AnswerTemplate(name="Typo", text="Hello {askr}")
    braces = AnswerTemplate(name="Braces", text="{asker} {signature}")
    assert render(braces, CharterIn(), "Bob") == "Bob"
