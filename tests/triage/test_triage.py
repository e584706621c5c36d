"""Triage: `tribune triage` on a backlog, duplicate grouping, language, and the honesty of
the training data (nothing from the evaluation set)."""

import json
from pathlib import Path

from rapidfuzz import fuzz
from typer.testing import CliRunner

from app.cli import cli
from app.triage import service
from app.triage.schemas import Category

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()

BACKLOG = [
    {"id": "1", "text": "Pourquoi fermez-vous l'agence de Lyon Part-Dieu en mars ? #AskNova"},
    {"id": "2", "text": "Is the Lyon Part-Dieu branch really closing in March? Why?"},
    {
        "id": "3",
        "text": "WIN 5000€ IN CRYPTO NOW!!! click bit.ly/fake-x1 #crypto #win #free #money",
    },
    {"id": "4", "text": "Merci pour ce live, très clair et humain 👏"},
    {"id": "5", "text": "Pourquoi fermez vous l'agence Lyon Part Dieu en mars??"},
]


def test_triage_prints_a_verdict_per_post_in_order(tmp_path: Path) -> None:
    backlog = tmp_path / "backlog.jsonl"
    backlog.write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in BACKLOG) + "\n\n")
    result = runner.invoke(cli, ["triage", str(backlog)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [v["id"] for v in lines] == ["1", "2", "3", "4", "5"]
    for verdict in lines:
        assert set(verdict) == {"id", "category", "confidence", "lang", "group"}
        assert verdict["category"] in {c.value for c in Category}
        assert 0.0 < verdict["confidence"] <= 1.0
    assert [v["lang"] for v in lines] == ["fr", "en", "en", "fr", "fr"]
    assert lines[2]["category"] == "spam"
    # The same question twice in French (punctuation and spacing aside) is one group.
    assert lines[0]["group"] is not None
    assert lines[0]["group"] == lines[4]["group"]
    assert lines[3]["group"] is None


def test_triage_refuses_a_bad_line_and_says_which(tmp_path: Path) -> None:
    backlog = tmp_path / "backlog.jsonl"
    backlog.write_text('{"id": "1", "text": "fine"}\n{"id": "2"}\n')
    result = runner.invoke(cli, ["triage", str(backlog)])
    assert result.exit_code == 1
    assert f"{backlog}:2: text: Field required" in result.output
    backlog.write_text("not json\n")
    result = runner.invoke(cli, ["triage", str(backlog)])
    assert result.exit_code == 1
    assert ":1:" in result.output
    assert "Traceback" not in result.output


def test_paraphrases_are_grouped_distinct_questions_are_not() -> None:
    texts = [
        "When will the mobile app outage be fixed? Can't log in since this morning",
        "@BanqueNova when is the app outage going to be fixed?? cannot log in",
        "What are the fees for international transfers outside the eurozone?",
        "What are the fees for the premium account package?",
    ]
    groups = service.group(texts, [Category.question] * 4)
    assert groups[0] is not None
    assert groups[0] == groups[1]
    assert groups[2] != groups[3] or groups[2] is None
    # Alike words across categories are not merged: a complaint is not a question.
    mixed = service.group(texts[:2], [Category.question, Category.complaint])
    assert mixed == [None, None]


def test_features_fold_accents_and_mark_links_and_hashtag_piles() -> None:
    text = service.features_text("ÇA COÛTE 30€ ?? VOIR https://x.example.com #a #b #c #d")
    assert "ca coute 0€ ?? voir zzurl a b c d" in text
    for mark in ("zzlink", "zzhashtags", "zzquestion", "zzmoney", "zzshouting"):
        assert mark in text


def test_the_training_set_holds_nothing_from_the_evaluation_set() -> None:
    def texts(path: Path) -> list[str]:
        lines = path.read_text(encoding="utf-8").splitlines()
        return [service.fold(json.loads(line)["text"]) for line in lines if line.strip()]

    # The pair model's own groups (data/groups.jsonl) are training posts too.
    train = [
        *texts(ROOT / "app" / "triage" / "data" / "train.jsonl"),
        *texts(ROOT / "app" / "triage" / "data" / "groups.jsonl"),
    ]
    evaluation = texts(ROOT / "eval" / "triage.jsonl")
    assert len(train) >= 300
    assert len(evaluation) >= 300
    assert not set(train) & set(evaluation)
    close = [(a, b) for a in evaluation for b in train if fuzz.ratio(a, b) >= 90]
    assert close == []
