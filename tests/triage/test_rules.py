"""Spam and blocklists: what triage rejects (reversibly, with its reason), what it approves,
and what it leaves to a moderator; the LiveEvent's rules through the API."""

from typing import Any

import httpx

from app.triage import rules
from app.triage.schemas import Category
from app.triage.service import fold
from tests.conftest import Actor, ask
from tests.triage.conftest import Ingest, RunStage

SPAM = "WIN 5000€ IN CRYPTO NOW!!! click bit.ly/fake-x1 #crypto #win #free #money"


async def by_handle(http: httpx.AsyncClient, actor: Actor) -> dict[str, dict[str, Any]]:
    response = await http.get("/api/v1/events/ask-test/questions", headers=actor.headers)
    assert response.status_code == 200, response.text
    return {q["author_handle"] or q["text"]: q for q in response.json()["items"]}


async def put_rules(http: httpx.AsyncClient, actor: Actor, **body: Any) -> httpx.Response:
    return await http.put("/api/v1/events/ask-test/triage/rules", json=body, headers=actor.headers)


async def test_spam_is_rejected_by_triage_with_its_reason_and_a_moderator_restores_it(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor, run_stage: RunStage
) -> None:
    spam = await ask(http, SPAM)
    await run_stage()
    url = f"/api/v1/questions/{spam['id']}"
    rejected = (await http.get(url, headers=moderator.headers)).json()
    assert rejected["status"] == "rejected"
    assert rejected["status_changed_by"] == "triage"
    assert rejected["triage_reason"] == "link spam: shortened link (bit.ly)"
    # Under the Rejected filter, and audited as triage's act.
    listed = await http.get(
        "/api/v1/events/ask-test/questions?status=rejected", headers=moderator.headers
    )
    assert [q["id"] for q in listed.json()["items"]] == [spam["id"]]
    history = (await http.get(f"{url}/history", headers=moderator.headers)).json()
    assert [(t["action"], t["by"], t["actor_id"], t["reason"]) for t in history] == [
        ("reject", "triage", None, "link spam: shortened link (bit.ly)")
    ]
    # Reversible: undo restores it to pending, and a moderator may approve it. Triage has
    # seen it: it does not reject it again.
    restored = await http.post(f"{url}/undo", headers=moderator.headers)
    assert restored.json()["status"] == "pending"
    await run_stage()
    approved = await http.post(f"{url}/approve", headers=moderator.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved"
    # The public never saw it.
    public = (await http.get("/api/v1/events/ask-test/public")).json()
    assert public["on_air"] is None


async def test_blocked_words_and_accounts_profanity_and_link_spam(
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    ingest: Ingest,
    run_stage: RunStage,
) -> None:
    response = await put_rules(
        http,
        moderator,
        blocked_words=["arnaque", "remboursez*", "vol organisé"],
        blocked_accounts=["@Troll42"],
    )
    assert response.status_code == 200, response.text
    await ingest(
        ("troll42", "Question innocente sur les frais de tenue de compte ?"),
        ("alice", "Votre banque est une ARNAQUE, tout le monde le sait"),
        ("bruno", "Remboursez-nous les frais de janvier !"),
        ("chloe", "C'est du vol   organisé ces frais"),
        ("dan", "What the fuck is going on with the app today?"),
        ("emma", "Le train avait 40 min de retard, j'ai droit à quoi ?"),
        ("fred", "Compare: a.example.com/x b.example.com/y c.example.com/z"),
        ("gina", "Is the fee grid at https://testbank.example.com/fees still valid?"),
    )
    await run_stage()
    seen = await by_handle(http, moderator)
    reasons = {h: (q["status"], q["triage_reason"]) for h, q in seen.items()}
    assert reasons["troll42"] == ("rejected", "blocked account @troll42")
    assert reasons["alice"] == ("rejected", "blocked word: arnaque")
    assert reasons["bruno"] == ("rejected", "blocked word: remboursez*")
    assert reasons["chloe"] == ("rejected", "blocked word: vol organisé")
    assert reasons["dan"] == ("rejected", "profanity: fuck*")
    # "retard" is a delay in French, not an insult; a link to a site is not spam by itself.
    assert reasons["emma"] == ("pending", "")
    assert reasons["fred"] == ("rejected", "link spam: 3 links")
    assert reasons["gina"] == ("pending", "")


async def test_the_same_link_from_many_accounts_is_a_spam_run(
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    ingest: Ingest,
    run_stage: RunStage,
) -> None:
    link = "https://deals.example.net/offer"
    await ingest(
        ("ann", f"Is this offer on your site real? {link} I want to know before I sign"),
        ("ben", f"Can you confirm the conditions of {link}/ for existing customers?"),
    )
    await run_stage()
    # Ann again is no new account; Cat is the third.
    await ingest(
        ("ann", f"Still no answer about {link} for existing customers?"),
        ("cat", "Your page http://www.deals.example.net/offer says 2% but the branch says 1%?"),
    )
    await run_stage()
    seen = await by_handle(http, moderator)
    assert seen["ben"]["status"] == "pending"
    assert seen["cat"]["status"] == "rejected"
    assert seen["cat"]["triage_reason"] == "link spam: the same link from 3 accounts"


async def test_on_x_the_expanded_link_is_checked_not_tco(
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    ingest: Ingest,
    run_stage: RunStage,
    maker: Any,
) -> None:
    from sqlalchemy import update

    from app.db import unit_of_work
    from app.ingest.models import Post
    from tests.conftest import RecordingNotifier

    raw = {
        "data": {
            "entities": {
                "urls": [{"url": "https://t.co/abc123", "expanded_url": "https://bit.ly/xx-offer"}]
            }
        }
    }
    await ingest(("xavier", "Any news on the merger? https://t.co/abc123"), raw=raw)
    # The fixture stores replay posts; this one came from X.
    async with unit_of_work(maker, RecordingNotifier()) as session:
        from app.questions.models import Question

        await session.execute(update(Post).values(source="x"))
        await session.execute(update(Question).values(source="x"))
    await run_stage()
    seen = await by_handle(http, moderator)
    assert seen["xavier"]["triage_reason"] == "link spam: shortened link (bit.ly)"


async def test_listed_accounts_are_approved_but_blocked_words_still_win(
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    ingest: Ingest,
    run_stage: RunStage,
) -> None:
    await put_rules(
        http,
        moderator,
        auto_approve_accounts=["@LeMondeEco", "journalist"],
        blocked_words=["scoop"],
    )
    await ingest(
        ("lemondeeco", "Quelle est votre stratégie sur les taux du livret ?"),
        ("Journalist", "Exclusive scoop: is the merger done?"),
        ("someone", "Quelle est votre stratégie sur les taux ?"),
    )
    await run_stage()
    seen = await by_handle(http, moderator)
    assert seen["lemondeeco"]["status"] == "approved"
    assert seen["lemondeeco"]["status_changed_by"] == "triage"
    assert seen["lemondeeco"]["triage_reason"] == "listed account @lemondeeco"
    assert seen["Journalist"]["status"] == "rejected"
    assert seen["someone"]["status"] == "pending"
    # The presenter's queue has it: approved is approved.
    queue = await http.get(
        "/api/v1/events/ask-test/questions?status=approved", headers=moderator.headers
    )
    assert [q["author_handle"] for q in queue.json()["items"]] == ["lemondeeco"]


async def test_switches_turn_the_profanity_list_and_spam_rejection_off(
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    ingest: Ingest,
    run_stage: RunStage,
) -> None:
    await put_rules(http, moderator, profanity=False, reject_spam=False)
    await ingest(("dan", "What the fuck is going on with the app today?"), ("spammer", SPAM))
    await run_stage()
    seen = await by_handle(http, moderator)
    assert seen["dan"]["status"] == "pending"
    assert seen["spammer"]["status"] == "pending"
    assert seen["spammer"]["category"] == "spam"


async def test_rules_api_validates_and_is_for_moderators(
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    spokesperson: Actor,
    admin: Actor,
) -> None:
    url = "/api/v1/events/ask-test/triage/rules"
    defaults = (await http.get(url, headers=moderator.headers)).json()
    assert defaults == {
        "blocked_words": [],
        "blocked_accounts": [],
        "auto_approve_accounts": [],
        "profanity": True,
        "reject_spam": True,
        "spam_confidence": rules.SPAM_CONFIDENCE,
    }
    saved = await put_rules(
        http, admin, blocked_words=["Arnaque", "arnaque", " spaced   out "], blocked_accounts=["@a"]
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["blocked_words"] == ["Arnaque", "spaced out"]
    assert saved.json()["blocked_accounts"] == ["a"]
    assert (await http.get(url, headers=moderator.headers)).json()["blocked_words"] == [
        "Arnaque",
        "spaced out",
    ]
    for bad in (
        {"blocked_words": ["*x"]},
        {"blocked_words": ["   "]},
        {"blocked_accounts": ["not a handle!"]},
        {"blocked_words": ["w"] * 501},
        {"profanity": "sometimes"},
        {"unknown": 1},
    ):
        response = await put_rules(http, moderator, **bad)
        assert response.status_code == 422, (bad, response.text)
        assert response.json()["error"]["message"], "a message says what is wrong"
    assert (await put_rules(http, spokesperson, profanity=False)).status_code == 403
    assert (await http.get(url, headers=spokesperson.headers)).status_code == 403
    assert (await http.get(url)).status_code == 401
    missing = await http.get("/api/v1/events/nope/triage/rules", headers=admin.headers)
    assert missing.status_code == 404


def test_word_lists_match_whole_words_without_case_or_accents() -> None:
    words = rules.WordList(["arnaque", "remboursez*", "vol organisé"])
    assert words.find(fold("C'est une ARNAQUÉ")) == "arnaque"
    assert words.find(fold("les arnaques")) is None
    assert words.find(fold("remboursez-moi")) == "remboursez*"
    assert words.find(fold("REMBOURSEZ")) == "remboursez*"
    assert words.find(fold("du vol\norganise")) == "vol organisé"
    assert words.find(fold("un vol annulé")) is None
    assert rules.WordList([]).find("anything") is None


def test_link_spam_heuristics() -> None:
    def why(text: str, accounts: int = 1) -> str | None:
        return rules.link_spam(text, rules.links_in(text), accounts)

    assert why("no link at all, WIN 5000 now") is None
    assert why("Gagnez 500€ en crypto 👉 https://promo.example.org") == (
        "link spam: “gagnez 500” with a link"
    )
    assert why("see tinyurl.com/abc") == "link spam: shortened link (tinyurl.com)"
    assert why("fees? https://bank.example.com/fees", accounts=2) is None
    assert why("fees? https://bank.example.com/fees", accounts=3) == (
        "link spam: the same link from 3 accounts"
    )
    assert rules.link_key("HTTPS://www.Bank.example.com/Fees/") == "bank.example.com/fees"


def test_decide_orders_the_rules() -> None:
    rule_set = rules.RuleSet.of(
        blocked_words=["scoop"], blocked_accounts=["troll"], auto_approve_accounts=["press"]
    )

    def decide(
        text: str, handle: str, category: Category = Category.question, p: float = 0.9
    ) -> rules.Decision | None:
        return rules.decide(
            rule_set,
            text=text,
            handle=handle,
            links=rules.links_in(text),
            accounts_with_link=1,
            category=category,
            confidence=p,
        )

    assert decide("hello", "@Troll") == rules.Decision(
        rules.Action.reject, "blocked account @troll"
    )
    assert decide("a scoop", "press") == rules.Decision(rules.Action.reject, "blocked word: scoop")
    # A listed account skips the spam checks, which could be wrong about it.
    assert decide("our giveaway https://bit.ly/x", "press") == rules.Decision(
        rules.Action.approve, "listed account @press"
    )
    assert decide("buy now", "bot", Category.spam, 0.95) == rules.Decision(
        rules.Action.reject, "spam (95% sure)"
    )
    assert decide("buy now?", "bot", Category.spam, 0.85) is None
    assert decide("what are the fees?", "ann") is None


COMPLAINT = "My card was charged twice and nobody answers the phone. Unacceptable! #AskTest"


async def test_a_listed_accounts_complaint_goes_to_the_desk_not_the_stage(
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    ingest: Ingest,
    run_stage: RunStage,
) -> None:
    """Auto-approve puts a listed account's questions on the stage, never its complaints: those
    are the complaints desk's (a complaint reaches the stage only when the desk moves it)."""
    await put_rules(http, moderator, auto_approve_accounts=["partner"])
    await ingest(("partner", COMPLAINT))
    await run_stage()
    seen = await by_handle(http, moderator)
    assert seen["partner"]["category"] == "complaint"
    assert seen["partner"]["status"] == "pending"


async def test_triage_never_makes_a_question_on_the_stage_a_complaint(
    http: httpx.AsyncClient,
    live_event: dict[str, Any],
    moderator: Actor,
    ingest: Ingest,
    run_stage: RunStage,
) -> None:
    """A moderator put it on the stage before triage saw it: that choice stands."""
    await ingest(("early", COMPLAINT))
    question = (await by_handle(http, moderator))["early"]
    approved = await http.post(
        f"/api/v1/questions/{question['id']}/approve", headers=moderator.headers
    )
    assert approved.status_code == 200, approved.text
    await run_stage()
    seen = (await by_handle(http, moderator))["early"]
    assert seen["triaged_at"] is not None
    assert (seen["status"], seen["category"]) == ("approved", None)
