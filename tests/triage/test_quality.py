"""Triage's quality and speed work: the hand-computed probabilities, the bilingual lexicon,
grouping across languages and categories, spam reposts, and the complaint weight."""

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from rapidfuzz import fuzz

from app.triage import evaluate, service
from app.triage.schemas import Category, Post

ROOT = Path(__file__).resolve().parents[2]


def training_texts() -> list[str]:
    lines = (ROOT / "app" / "triage" / "data" / "train.jsonl").read_text(encoding="utf-8")
    return [json.loads(line)["text"] for line in lines.splitlines() if line.strip()]


def test_hand_computed_probabilities_are_the_pipelines() -> None:
    model = service.classifier()
    texts = [
        *training_texts()[:200],
        "",
        "   ",
        "🙂🙂",
        "https://x.example.com",
        "@Someone #tag",
        "Une question totalement inédite sur les xylophones quantiques ?",
    ]
    fast = model.probabilities(texts)
    reference = model.pipeline_probabilities(texts)
    assert fast.shape == reference.shape == (len(texts), len(model.classes))
    assert np.allclose(fast, reference, atol=1e-9)
    assert np.allclose(fast.sum(axis=1), 1.0)


def test_lexicon_maps_both_languages_to_one_concept() -> None:
    lexicon = service.Lexicon.from_lines(
        [
            '{"concept": "close", "words": ["closing", "closed", "fermetur*", "Fermé"]}',
            "",
            '{"concept": "branch", "words": ["branch*", "agence*"]}',
            '{"concept": "site", "words": ["website", "en ligne", "online"]}',
        ]
    )
    assert lexicon.concepts("closing") == ("close",)
    assert lexicon.concepts("fermetures") == ("close",)
    assert lexicon.concepts("ferme") == ("close",)  # entries are folded like posts
    assert lexicon.concepts("agences") == lexicon.concepts("branches") == ("branch",)
    assert lexicon.concepts("close") == ()  # exact words are exact
    # A phrase is one word once joined: "ligne" alone would read as a bus or metro line.
    assert lexicon.join("payer en ligne, en-ligne") == "payer en_ligne, en_ligne"
    assert lexicon.concepts("en_ligne") == lexicon.concepts("online") == ("site",)
    bundled = service.lexicon()
    assert bundled.concepts("remboursement") == bundled.concepts("refund") == ("refund",)
    assert service.stems("Vous fermez des agences ?") == "c:close c:branch"
    assert sorted(service.stems("Paiement en ligne").split()) == ["c:site", "c:transfer"]
    assert sorted(service.stems("online payment").split()) == ["c:site", "c:transfer"]


def test_words_the_lexicon_does_not_know_are_compared_as_lemmas() -> None:
    # A plural or a participle meets its lemma, in either language.
    assert service.stems("Les passagers inquiets") == service.stems("passager inquiet")
    assert service.stems("Les trottinettes pliées") == "trottinette plier"
    assert service.stems("the passengers were rerouted") == "passenger reroute"
    # A lemma that is a stop word is left out like one ("being" is "be").
    assert service.stems("being rerouted") == "reroute"


def test_a_shows_hashtags_are_no_topic_word_but_count_for_spam() -> None:
    post = "Grève du 12 : quels trains ? #AskRailexa #RailexaLive #grève"
    # The show's tags are left out (names weigh the show); a one-word hashtag is a word.
    assert service.topic_text(post) == service.topic_text("Grève du 12 : quels trains ? #grève")
    assert "railexa" in service.names(post)
    # Spam keeps them: without them, two short scams of one kind meet (see similarities()).
    assert "askrailexa" in service.topic_text(post, show_tags=True)


def test_the_pair_models_own_groups_are_labelled_posts_of_grouped_categories() -> None:
    posts = service.paraphrases()
    assert len(posts) >= 50
    sizes = Counter(p.group for p in posts if p.group is not None)
    assert min(sizes.values()) >= 2
    assert all(p.category in service.GROUPED for p in posts)
    # Their group ids are their own: none of them joins a group of train.jsonl.
    training = service.load_grouped(
        (ROOT / "app" / "triage" / "data" / "train.jsonl").read_text().splitlines()
    )
    assert not set(sizes) & {p.group for p in training}


def test_the_same_question_in_french_and_english_is_one_group() -> None:
    texts = [
        "Vous allez fermer combien d'agences cette année ?",
        "How many branches are you closing this year?",
        "Quels sont les frais pour un virement à l'étranger ?",
        "How much is the monthly account package now?",
    ]
    groups = service.group(texts, [Category.question] * 4)
    assert groups[0] is not None
    assert groups[0] == groups[1]
    assert groups[2] is None
    assert groups[3] is None


def test_spam_is_grouped_only_when_reposted() -> None:
    texts = [
        "FREE 10,000 coins 💰 no survey, just log in here coins-gift.example.net",
        "FREE 10000 coins!! no survey just log in 👉 coins-gift.example.net",
        "Earn 500€ a day from your sofa with crypto, DM me 💸 easy-money.example.org",
        "Cheap followers, 5k in 24h, real accounts ➡️ followers.example.com",
    ]
    groups = service.group(texts, [Category.spam] * 4)
    assert groups[0] is not None
    assert groups[0] == groups[1]
    assert groups[2] is None
    assert groups[3] is None


def test_sure_categories_keep_alike_posts_apart_unsure_ones_do_not() -> None:
    texts = [
        "The app outage since this morning: when will it be fixed?",
        "App outage since this morning, I can't pay my rent, when is it fixed??",
    ]
    kinds = [Category.question, Category.complaint]
    # Without confidences every category is sure: a question is not merged with a complaint.
    assert service.group(texts, kinds) == [None, None]
    assert service.group(texts, kinds, confidences=[0.95, 0.97]) == [None, None]
    # The model hesitates on one of them: the text decides, and they are one group.
    unsure = service.group(texts, kinds, confidences=[0.55, 0.97])
    assert unsure[0] is not None
    assert unsure[0] == unsure[1]
    # Praise and chit-chat are never grouped, however alike.
    assert service.group(texts, [Category.praise, Category.praise]) == [None, None]


def test_the_complaint_weight_moves_only_hesitant_posts_to_complaints() -> None:
    examples = service.load_examples(
        (ROOT / "app" / "triage" / "data" / "train.jsonl").read_text().splitlines()
    )
    texts = training_texts()[:150]
    plain = service.Classifier(examples, complaint_weight=1.0)
    probabilities = plain.probabilities(texts)
    assert [c for c, _ in plain.predict(texts)] == [
        plain.classes[int(i)] for i in np.argmax(probabilities, axis=1)
    ]
    weighted = service.Classifier(examples, complaint_weight=1.3).predict(texts)
    complaint = plain.classes.index(Category.complaint)
    for (before, _), (after, confidence), row in zip(
        plain.predict(texts), weighted, probabilities, strict=True
    ):
        if after is not before:
            # Only towards complaints, and only where complaint was within 30% of the best.
            assert after is Category.complaint
            assert row[complaint] * 1.3 >= row.max()
        # The confidence stays the model's own probability of the category given.
        assert confidence == pytest.approx(row[plain.classes.index(after)], abs=1e-3)
    everything = service.Classifier(examples, complaint_weight=1e9).predict(texts)
    assert {c for c, _ in everything} == {Category.complaint}


def test_triage_passes_its_confidences_to_grouping() -> None:
    posts = [
        Post(id="a", text="Pourquoi fermez-vous l'agence de Lyon Part-Dieu en mars ?"),
        Post(id="b", text="Why are you closing the Lyon Part-Dieu branch in March?"),
        Post(id="c", text="Merci pour ce live, très clair 👏"),
    ]
    verdicts = service.triage(posts)
    assert [v.lang for v in verdicts] == ["fr", "en", "fr"]
    assert verdicts[0].group is not None
    assert verdicts[0].group == verdicts[1].group
    assert verdicts[2].group is None


def test_the_held_out_set_is_apart_from_training_and_evaluation() -> None:
    def texts(path: Path) -> list[str]:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [service.fold(json.loads(line)["text"]) for line in lines if line.strip()]

    dev = texts(ROOT / "app" / "triage" / "data" / "dev.jsonl")
    train = texts(ROOT / "app" / "triage" / "data" / "train.jsonl")
    evaluation = texts(ROOT / "eval" / "triage.jsonl")
    assert len(dev) >= 50
    close = [(a, b) for a in dev for b in [*train, *evaluation] if fuzz.ratio(a, b) >= 90]
    assert close == []


def test_a_paraphrase_across_languages_is_grouped_other_questions_of_the_show_are_not() -> None:
    texts = [
        "Heard Orsane is being taken over by a foreign bank. Anything to it? #AskOrsane",
        "C'est vrai qu'Orsane va être rachetée par une banque étrangère ?",
        "Why did the Orsane savings rate drop again this month?",
        "Les agences Orsane seront fermées le samedi maintenant ?",
        "Is it true Orsane is closing branches on Saturdays from now on?",
    ]
    kinds = [Category.rumour, Category.rumour, Category.question, Category.question]
    groups = service.group(texts, [*kinds, Category.question])
    # The takeover rumour in English and French share no topic word but the brand: the
    # lexicon's concepts ("taken over"/"rachetée", "foreign"/"étrangère") carry it.
    assert groups[0] is not None
    assert groups[0] == groups[1]
    # Saturday closures, asked in both languages, are another group; the savings rate none.
    assert groups[3] is not None
    assert groups[3] == groups[4]
    assert groups[3] != groups[0]
    assert groups[2] is None


def test_the_pair_model_weighs_what_two_posts_share() -> None:
    model = service.pair_model()
    same_show = ["Why is the Orsane premium going up in January?"] * 2
    two_shows = [same_show[0], "Why is the Fibralis premium going up in January?"]
    kinds = [Category.question] * 2
    alike = model.probabilities(same_show, kinds, [True, True])
    assert alike.shape == (2, 2)
    assert np.allclose(alike, alike.T)
    assert np.allclose(np.diag(alike), 1.0)
    # Another show's brand makes the same words less likely one question.
    assert model.probabilities(two_shows, kinds, [True, True])[0, 1] < alike[0, 1]
    # Sure categories that differ make it unlikely.
    apart = model.probabilities(same_show, [Category.question, Category.complaint], [True, True])
    assert apart[0, 1] < alike[0, 1]
    features = service.pair_features(same_show, kinds, [True, True])
    assert features.shape == (2, 2, len(service.PAIR_FEATURES))
    assert set(model.weights) == set(service.PAIR_FEATURES)


def test_the_pair_model_needs_duplicates_to_learn_from() -> None:
    posts = [
        service.Grouped("Why is the price going up?", Category.question, None),
        service.Grouped("When does the line reopen?", Category.question, None),
    ]
    with pytest.raises(ValueError, match="pairs of duplicates"):
        service.PairModel(posts)


def test_posts_tagged_for_two_shows_are_never_one_group() -> None:
    texts = [
        "My train was cancelled by the strike: refund or voucher? #AskRailexa",
        "Train cancelled because of the strike, do I get a refund or a voucher? @Railexa",
        "Flight cancelled by the strike: refund or only a voucher? #AskAerlune",
        "Is Railexa refunding tickets cancelled by the strike, or just vouchers? #AerluneLive",
    ]
    shows = service.other_shows(texts)
    assert not shows[0, 1]  # "#AskRailexa" and "@Railexa": one show
    assert shows[0, 2]
    assert shows[1, 2]
    # Tagged for one show, naming the other: not told apart.
    assert not shows[0, 3]
    assert not shows[2, 3]
    groups = service.group(texts[:3], [Category.question] * 3)
    assert groups[0] is not None
    assert groups[0] == groups[1]
    assert groups[2] is None
    # Spam is reposted under every show's hashtag: still one group.
    spam = [
        "FREE 1000€ gift card, click now 👉 gift-card.example.net #AskRailexa",
        "FREE 1000€ gift card, click now 👉 gift-card.example.net #AskAerlune",
    ]
    reposted = service.group(spam, [Category.spam] * 2)
    assert reposted[0] is not None
    assert reposted[0] == reposted[1]


def test_whole_batch_groups_a_file_at_once_with_held_out_models(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = (ROOT / "app" / "triage" / "data" / "train.jsonl").read_text(encoding="utf-8")
    sample = tmp_path / "sample.jsonl"
    sample.write_text("\n".join(lines.splitlines()[:250]) + "\n", encoding="utf-8")
    assert evaluate.main(["--whole-batch", str(sample)]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[1:]]
    assert [row[0] for row in rows] == [f"{p / 100:.2f}" for p in range(6, 62, 2)]
    # Each row: precision, recall and F1, the lower the threshold the higher the recall.
    recalls = [float(row[2]) for row in rows]
    assert recalls == sorted(recalls, reverse=True)
    assert max(float(row[3]) for row in rows) > 0.3
