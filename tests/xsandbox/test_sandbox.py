"""The sandbox X API driven by real tweepy over HTTP, as Tribune's sources and targets will be.

One uvicorn serves one sandbox for the module; every test starts from a reset sandbox.
"""

import functools
import json
import queue
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import tweepy

from app.demo import DEMO_RECORDING
from app.x.client import XCredentials, make_client, make_search_client, point_session
from app.xsandbox.app import create_sandbox_app
from app.xsandbox.matching import matches, rule_errors
from app.xsandbox.state import SandboxConfig, SandboxState, load_recording
from tests.conftest import serve_in_thread

CONFIG = SandboxConfig(keepalive_seconds=0.2)
ACCOUNT = CONFIG.account_id
TIMEOUT = 5.0


@dataclass
class Sandbox:
    state: SandboxState
    url: str

    def control(self, method: str, path: str, body: Any = None) -> Any:
        response = requests.request(method, f"{self.url}/_sandbox{path}", json=body, timeout=5)
        assert response.status_code < 300, response.text
        return response.json()

    def publish(self, *messages: dict[str, Any]) -> None:
        self.control("POST", "/publish", {"messages": list(messages)})

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.control("GET", "/stats")
        return stats


@pytest.fixture(scope="module")
def server() -> Iterator[Sandbox]:
    state = SandboxState(CONFIG.model_copy())
    with serve_in_thread(create_sandbox_app(state)) as live:
        sandbox = Sandbox(state, live.url)
        yield sandbox
        # An open stream would keep uvicorn waiting at shutdown.
        state.disconnect_streams()


@pytest.fixture
def sandbox(server: Sandbox) -> Sandbox:
    server.state.config = CONFIG.model_copy()
    server.control("POST", "/reset")
    return server


@pytest.fixture
def clients() -> Iterator[list[Any]]:
    """Sessions to close after the test (tweepy never closes its own)."""
    made: list[Any] = []
    yield made
    for client in made:
        client.session.close()


def _credentials(**overrides: str) -> XCredentials:
    values = {
        "bearer_token": CONFIG.bearer_token,
        "consumer_key": CONFIG.consumer_key,
        "consumer_secret": CONFIG.consumer_secret,
        "access_token": CONFIG.access_token,
        "access_token_secret": CONFIG.access_token_secret,
        **overrides,
    }
    return XCredentials.model_validate(values)


@pytest.fixture
def poster(sandbox: Sandbox, clients: list[Any]) -> Any:
    """OAuth 1.0a user context, as Tribune's publishing target uses."""
    client = make_client(_credentials(), sandbox.url)
    clients.append(client)
    return client


@pytest.fixture
def searcher(sandbox: Sandbox, clients: list[Any]) -> Any:
    client = make_search_client(_credentials(), sandbox.url)
    clients.append(client)
    return client


@pytest.fixture
def rules_client(sandbox: Sandbox, clients: list[Any]) -> Any:
    client = tweepy.StreamingClient(CONFIG.bearer_token)
    point_session(client.session, sandbox.url)
    clients.append(client)
    return client


_ids = iter(range(2128549837126091118, 2128549837126091118 + 10**6, 1000))


def post(
    text: str,
    *,
    username: str = "priya_nair",
    author_id: str = "58079723",
    lang: str = "en",
    **data: Any,
) -> dict[str, Any]:
    """A filtered-stream message as X sends it, with a fresh increasing id."""
    post_id = str(next(_ids))
    body = {
        "id": post_id,
        "text": text,
        "author_id": author_id,
        "created_at": "2026-12-03T18:00:02.000Z",
        "lang": lang,
        "conversation_id": post_id,
        "edit_history_tweet_ids": [post_id],
        **data,
    }
    user = {"id": author_id, "username": username, "name": username.title()}
    return {"data": body, "includes": {"users": [user]}}


def x_json(result: Any) -> dict[str, Any]:
    """X's JSON from a tweepy call, whatever return type the client factory chose."""
    if isinstance(result, requests.Response):
        body: dict[str, Any] = result.json()
        return body

    def raw(value: Any) -> Any:
        if isinstance(value, list):
            return [raw(item) for item in value]
        return value if isinstance(value, dict) else getattr(value, "data", value)

    body = {"meta": result.meta}
    if result.data is not None:
        body["data"] = raw(result.data)
    if result.includes:
        body["includes"] = {key: raw(value) for key, value in result.includes.items()}
    return body


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


# -- matcher ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("#AskAurora", True),
        ("#askaurora", True),
        ("#Ask", False),
        ("transfers", True),
        ("TRANSFERS cap", True),
        ("transfers lisbon2", False),
        ('"daily cap"', True),
        ('"cap daily"', False),
        ("nothing OR lisbon", True),
        ("nothing OR lisbon missing", False),
        ("(nothing OR lisbon) #AskAurora", True),
        ("#AskAurora -lisbon", False),
        ("#AskAurora -(nothing OR missing)", True),
        ('#AskAurora -"daily cap"', False),
        ("from:priya_nair", True),
        ("from:58079723", True),
        ("from:someone_else", False),
        ("@AuroraBank", True),
        ("@aurorabank lang:en", True),
        ("@AuroraBank lang:fr", False),
        ("#AskAurora -is:retweet", True),
        ("#AskAurora is:retweet", False),
        ("#AskAurora has:mentions -has:links", True),
        ("conversation_id:77", True),
        ("Q&A", True),
    ],
)
def test_matcher(query: str, expected: bool) -> None:
    message = post(
        "Is there a daily cap on transfers? Deposit in Lisbon. @AuroraBank #AskAurora Q&amp;A",
        conversation_id="77",
    )
    assert matches(query, message) is expected


@pytest.mark.parametrize(
    "rule",
    [
        "",
        "   ",
        "(#AskAurora",
        "#AskAurora)",
        '"open quote',
        "a OR",
        "OR a",
        "-is:retweet",
        "x" * 1025,
    ],
)
def test_invalid_rules(rule: str) -> None:
    assert rule_errors(rule)


def test_load_recording_reads_the_bundled_chat() -> None:
    messages = load_recording(DEMO_RECORDING)
    assert len(messages) > 100
    assert all(message["data"]["id"].isdigit() for message in messages)


async def test_play_paces_by_created_at_capped_and_sped_up() -> None:
    state = SandboxState(CONFIG.model_copy())
    messages = [post("one"), post("two"), post("three")]
    messages[1]["data"]["created_at"] = "2026-12-03T18:00:04.000Z"  # +2 s
    messages[2]["data"]["created_at"] = "2026-12-03T18:01:04.000Z"  # +60 s, capped to 10 s
    started = time.monotonic()
    await state.play(messages, speed=50)
    elapsed = time.monotonic() - started
    assert 0.2 <= elapsed < 1.0  # (2 + 10) / 50 = 0.24 s
    assert state.stats()["posts"] == 3


# -- rules ---------------------------------------------------------------------------------------


def test_rules_add_get_dry_run_invalid_delete(sandbox: Sandbox, rules_client: Any) -> None:
    added = rules_client.add_rules(
        [tweepy.StreamRule("#AskAurora -is:retweet", tag="askaurora"), tweepy.StreamRule("@Aurora")]
    )
    assert [rule.value for rule in added.data] == ["#AskAurora -is:retweet", "@Aurora"]
    assert all(len(rule.id) == 19 and rule.id.isdigit() for rule in added.data)
    assert [rule.tag for rule in added.data] == ["askaurora", ""]
    assert added.meta["summary"] == {"created": 2, "not_created": 0, "valid": 2, "invalid": 0}

    dry = rules_client.add_rules(tweepy.StreamRule("#AskAuroraFR"), dry_run=True)
    assert dry.meta["summary"]["created"] == 1
    assert len(rules_client.get_rules().data) == 2
    assert [rule["tag"] for rule in sandbox.state.rules] == ["askaurora", ""]

    invalid = rules_client.add_rules(tweepy.StreamRule('(#AskAurora "lisbon'))
    assert invalid.data is None
    assert invalid.errors[0]["title"] == "Invalid Rule"
    assert invalid.errors[0]["type"] == "https://api.twitter.com/2/problems/invalid-rules"
    assert invalid.errors[0]["value"] == '(#AskAurora "lisbon'
    assert len(invalid.errors[0]["details"]) == 2  # quotes and parentheses
    assert invalid.meta["summary"] == {"created": 0, "not_created": 1, "valid": 0, "invalid": 1}

    duplicate = rules_client.add_rules(tweepy.StreamRule("@Aurora"))
    assert duplicate.errors[0]["title"] == "DuplicateRule"

    ids = [rule.id for rule in added.data]
    dry_delete = rules_client.delete_rules(ids, dry_run=True)
    assert dry_delete.meta["summary"] == {"deleted": 2, "not_deleted": 0}
    assert len(rules_client.get_rules().data) == 2

    deleted = rules_client.delete_rules([*ids, "1999999999999999999"])
    assert deleted.meta["summary"] == {"deleted": 2, "not_deleted": 1}
    empty = rules_client.get_rules()
    assert empty.data is None
    assert empty.meta["result_count"] == 0


def test_app_endpoints_need_the_app_bearer(sandbox: Sandbox, clients: list[Any]) -> None:
    client = tweepy.StreamingClient("not-the-bearer")
    point_session(client.session, sandbox.url)
    clients.append(client)
    with pytest.raises(tweepy.Unauthorized) as caught:
        client.get_rules()
    assert caught.value.response.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }
    assert "not-the-bearer" not in caught.value.response.text


# -- filtered stream -----------------------------------------------------------------------------


class QueueStream(tweepy.StreamingClient):  # type: ignore[misc]
    """Callbacks only hand over (X_API.md): lines and parsed responses go to queues."""

    def __init__(self, bearer_token: str, base_url: str) -> None:
        super().__init__(bearer_token, daemon=True)
        point_session(self.session, base_url)
        self.lines: queue.Queue[dict[str, Any]] = queue.Queue()
        self.responses: queue.Queue[Any] = queue.Queue()
        self.connects = 0
        self.closes = 0
        self.keep_alives = 0

    def on_connect(self) -> None:
        self.connects += 1

    def on_closed(self, response: Any) -> None:
        self.closes += 1

    def on_keep_alive(self) -> None:
        self.keep_alives += 1

    def on_data(self, raw_data: bytes) -> None:
        self.lines.put(json.loads(raw_data))
        super().on_data(raw_data)  # tweepy's own parsing: fails on a rule without a tag

    def on_response(self, response: Any) -> None:
        self.responses.put(response)


@pytest.fixture
def stream(sandbox: Sandbox) -> Iterator[QueueStream]:
    client = QueueStream(CONFIG.bearer_token, sandbox.url)
    yield client
    client.disconnect()
    if client.thread is not None:
        client.thread.join(TIMEOUT)
        assert not client.thread.is_alive()


def _connect(sandbox: Sandbox, stream: QueueStream, connects: int = 1) -> None:
    if not stream.running:
        stream.filter(threaded=True, expansions=["author_id"])
    wait_for(lambda: stream.connects >= connects, "the stream to connect")
    wait_for(lambda: sandbox.stats()["open_streams"] == 1, "the sandbox to see the stream")


def test_stream_delivers_matching_posts_only(
    sandbox: Sandbox, rules_client: Any, stream: QueueStream
) -> None:
    rules_client.add_rules(
        [
            tweepy.StreamRule("#AskAurora -is:retweet", tag="askaurora"),
            tweepy.StreamRule("@AuroraBank"),
        ]
    )
    before = post("Published before anyone listens #AskAurora")
    sandbox.publish(before)
    _connect(sandbox, stream)

    question = post("Daily cap on transfers? #AskAurora")
    other = post("Nothing to do with the chat")
    retweet = post(
        "RT @priya_nair: Daily cap on transfers? #AskAurora",
        referenced_tweets=[{"type": "retweeted", "id": question["data"]["id"]}],
    )
    mention = post("@AuroraBank hello", username="jess_mcal", author_id="1283088881480304880")
    sandbox.publish(question, other, retweet, mention)

    first = stream.responses.get(timeout=TIMEOUT)
    second = stream.responses.get(timeout=TIMEOUT)
    assert first.data.id == int(question["data"]["id"])
    assert [rule.tag for rule in first.matching_rules] == ["askaurora"]
    assert first.includes["users"][0].username == "priya_nair"
    assert second.data.id == int(mention["data"]["id"])
    assert [rule.tag for rule in second.matching_rules] == [""]
    time.sleep(0.5)  # keep-alives pass, nothing else arrives
    assert stream.responses.empty()
    assert stream.keep_alives >= 1

    # The post published before the connection never comes (no backfill), but search finds it.
    seen = [stream.lines.get_nowait()["data"]["id"] for _ in range(2)]
    assert before["data"]["id"] not in seen

    # Only one connection at a time, as on pay-per-use.
    with requests.get(
        f"{sandbox.url}/2/tweets/search/stream",
        headers={"Authorization": f"Bearer {CONFIG.bearer_token}"},
        stream=True,
        timeout=TIMEOUT,
    ) as second_connection:
        assert second_connection.status_code == 429
        assert second_connection.json()["connection_issue"] == "TooManyConnections"

    # Publishing straight on the state from this thread is delivered too.
    late = post("Late question #AskAurora")
    sandbox.state.publish([late])
    assert stream.responses.get(timeout=TIMEOUT).data.id == int(late["data"]["id"])


def test_disconnect_streams_ends_the_stream_and_a_reconnect_succeeds(
    sandbox: Sandbox, rules_client: Any, stream: QueueStream
) -> None:
    rules_client.add_rules(tweepy.StreamRule("#AskAurora", tag="askaurora"))
    _connect(sandbox, stream)

    # From this thread, straight on the state: the server's loop is told to end the response.
    sandbox.state.disconnect_streams()
    # tweepy sees the end, and reconnects at once: the old connection must already be gone.
    wait_for(lambda: stream.closes == 1, "tweepy to see the stream end")
    _connect(sandbox, stream, connects=2)
    assert sandbox.control("POST", "/disconnect") == {"disconnected": 1}
    wait_for(lambda: stream.closes == 2, "tweepy to see the second end")
    _connect(sandbox, stream, connects=3)
    assert sandbox.stats()["stream_connections"] == 3

    question = post("After the reconnect #AskAurora")
    sandbox.publish(question)
    assert stream.responses.get(timeout=TIMEOUT).data.id == int(question["data"]["id"])

    stream.disconnect()
    assert stream.thread is not None
    stream.thread.join(TIMEOUT)
    wait_for(lambda: sandbox.stats()["open_streams"] == 0, "the sandbox to forget the stream")


# -- recent search -------------------------------------------------------------------------------


def test_search_pages_newest_first_with_since_id(sandbox: Sandbox, searcher: Any) -> None:
    posts = [post(f"Question {n} #AskAurora") for n in range(25)]
    sandbox.publish(*posts, post("Unrelated"))
    ids = [p["data"]["id"] for p in posts]

    seen: list[str] = []
    token = None
    pages = 0
    while True:
        page = x_json(
            searcher.search_recent_tweets(
                "#AskAurora",
                max_results=10,
                next_token=token,
                expansions=["author_id"],
                user_fields=["username"],
            )
        )
        pages += 1
        seen += [tweet["id"] for tweet in page["data"]]
        assert page["meta"]["newest_id"] == page["data"][0]["id"]
        assert page["meta"]["oldest_id"] == page["data"][-1]["id"]
        assert page["includes"]["users"][0]["username"] == "priya_nair"
        token = page["meta"].get("next_token")
        if token is None:
            break
    assert pages == 3
    assert seen == ids[::-1]

    newer = x_json(searcher.search_recent_tweets("#AskAurora", since_id=ids[21]))
    assert [tweet["id"] for tweet in newer["data"]] == ids[:21:-1]
    assert newer["meta"]["result_count"] == 3
    assert "next_token" not in newer["meta"]

    nothing = x_json(searcher.search_recent_tweets("#AskAurora", since_id=ids[-1]))
    assert "data" not in nothing
    assert nothing["meta"] == {"result_count": 0}

    with pytest.raises(tweepy.BadRequest) as caught:
        searcher.search_recent_tweets("#AskAurora", max_results=5)
    assert "max_results" in caught.value.response.text
    assert "x-rate-limit-remaining" in caught.value.response.headers


def test_search_finds_the_accounts_replies_for_reconciliation(
    sandbox: Sandbox, searcher: Any, poster: Any
) -> None:
    question = post("@AuroraBank is there a callback option? #AskAurora")
    sandbox.publish(question)
    question_id = question["data"]["id"]
    reply = x_json(
        poster.create_tweet(
            text="Yes: ask for it on the hold menu.", in_reply_to_tweet_id=question_id
        )
    )
    assert int(reply["data"]["id"]) > int(question_id)

    found = x_json(searcher.search_recent_tweets(f"from:AuroraBank conversation_id:{question_id}"))
    assert [tweet["id"] for tweet in found["data"]] == [reply["data"]["id"]]
    assert [p["conversation_id"] for p in sandbox.control("GET", "/posts")] == [question_id]


def test_search_rate_limit_headers_and_429(sandbox: Sandbox, searcher: Any) -> None:
    sandbox.state.config.search_rate_limit = 2
    first = searcher.session.get(
        f"{sandbox.url}/2/tweets/search/recent",
        params={"query": "#AskAurora"},
        headers={"Authorization": f"Bearer {CONFIG.bearer_token}"},
        timeout=TIMEOUT,
    )
    assert first.headers["x-rate-limit-limit"] == "2"
    assert first.headers["x-rate-limit-remaining"] == "1"
    assert int(first.headers["x-rate-limit-reset"]) > time.time() + 800
    searcher.search_recent_tweets("#AskAurora")
    with pytest.raises(tweepy.TooManyRequests) as caught:
        searcher.search_recent_tweets("#AskAurora")
    assert caught.value.response.headers["x-rate-limit-remaining"] == "0"
    assert caught.value.response.json()["title"] == "Too Many Requests"
    first.close()


# -- posting -------------------------------------------------------------------------------------


def test_oauth1_posting_and_wrong_secret(sandbox: Sandbox, poster: Any, clients: list[Any]) -> None:
    # Query parameters are part of the OAuth 1.0a signature.
    me = x_json(poster.get_me(user_fields=["username", "name"]))["data"]
    assert me == {"id": ACCOUNT, "username": "AuroraBank", "name": CONFIG.account_name}

    created = x_json(poster.create_tweet(text="Bonsoir ! #AskAurora"))["data"]
    assert created["text"] == "Bonsoir ! #AskAurora"
    assert created["edit_history_tweet_ids"] == [created["id"]]
    assert len(created["id"]) == 19
    posts = sandbox.control("GET", "/posts")
    assert posts[0]["id"] == created["id"]
    assert posts[0]["conversation_id"] == created["id"]
    assert posts[0]["in_reply_to_tweet_id"] is None

    wrong = make_client(_credentials(consumer_secret="guessed-secret"), sandbox.url)
    clients.append(wrong)
    with pytest.raises(tweepy.Unauthorized) as caught:
        wrong.create_tweet(text="Should not go out")
    assert "guessed-secret" not in caught.value.response.text
    assert CONFIG.consumer_key not in caught.value.response.text
    assert len(sandbox.control("GET", "/posts")) == 1


def test_oauth2_user_bearer_posting(sandbox: Sandbox, clients: list[Any]) -> None:
    credentials = XCredentials.model_validate({"user_access_token": CONFIG.user_access_token})
    client = make_client(credentials, sandbox.url)
    clients.append(client)
    assert x_json(client.get_me(user_auth=False))["data"]["username"] == "AuroraBank"
    created = x_json(client.create_tweet(text="Posted with OAuth 2", user_auth=False))
    assert sandbox.control("GET", "/posts")[0]["id"] == created["data"]["id"]

    app_only = make_search_client(_credentials(), sandbox.url)
    clients.append(app_only)
    with pytest.raises(tweepy.Unauthorized):
        app_only.create_tweet(text="The app bearer is not user context", user_auth=False)


def test_summoned_reply_rule(sandbox: Sandbox, poster: Any) -> None:
    hashtag_only = post("Which branches are closing? #AskAurora")
    mentioning = post("@aurorabank which branches are closing?", username="alex_mh", author_id="9")
    sandbox.publish(hashtag_only, mentioning)

    with pytest.raises(tweepy.Forbidden) as caught:
        poster.create_tweet(text="Answer", in_reply_to_tweet_id=hashtag_only["data"]["id"])
    assert caught.value.response.json()["detail"].startswith(
        "Reply to this conversation is not allowed because you have not been mentioned"
    )

    answer = x_json(
        poster.create_tweet(text="@alex_mh None.", in_reply_to_tweet_id=mentioning["data"]["id"])
    )
    thread = x_json(
        poster.create_tweet(text="And a second part.", in_reply_to_tweet_id=answer["data"]["id"])
    )
    posts = sandbox.control("GET", "/posts")
    assert [p["conversation_id"] for p in posts] == [mentioning["data"]["id"]] * 2
    assert posts[1]["id"] == thread["data"]["id"]
    assert posts[1]["in_reply_to_tweet_id"] == answer["data"]["id"]

    with pytest.raises(tweepy.BadRequest):
        poster.create_tweet(text="To nothing", in_reply_to_tweet_id="1999999999999999999")


def test_length_and_duplicate_checks(sandbox: Sandbox, poster: Any) -> None:
    with pytest.raises(tweepy.BadRequest):
        poster.create_tweet(text="a" * 281)
    with pytest.raises(tweepy.BadRequest):
        poster.create_tweet(text="中" * 141)  # CJK counts 2: 282
    poster.create_tweet(text="a" * 280)
    poster.create_tweet(text="https://example.com/" + "x" * 300 + " " + "b" * 200)  # URL: 23

    poster.create_tweet(text="Merci !")
    with pytest.raises(tweepy.Forbidden) as caught:
        poster.create_tweet(text="Merci !")
    assert caught.value.response.json()["detail"] == (
        "You are not allowed to create a Tweet with duplicate content."
    )
    assert len(sandbox.control("GET", "/posts")) == 3


# -- faults --------------------------------------------------------------------------------------


def test_injected_429_then_503(sandbox: Sandbox, searcher: Any, poster: Any) -> None:
    sandbox.control("POST", "/faults", {"endpoint": "search", "statuses": [429]})
    with pytest.raises(tweepy.TooManyRequests) as caught:
        searcher.search_recent_tweets("#AskAurora")
    headers = caught.value.response.headers
    assert headers["x-rate-limit-remaining"] == "0"
    assert 0 <= int(headers["x-rate-limit-reset"]) - time.time() <= 1
    assert caught.value.reset_time == int(headers["x-rate-limit-reset"])
    assert x_json(searcher.search_recent_tweets("#AskAurora"))["meta"] == {"result_count": 0}

    sandbox.control("POST", "/faults", {"endpoint": "tweets", "statuses": [503]})
    with pytest.raises(tweepy.TwitterServerError):
        poster.create_tweet(text="During an outage")
    assert sandbox.control("GET", "/posts") == []
    assert sandbox.stats()["requests"]["tweets"] == 1


def test_accept_then_hang_times_out_but_the_post_exists(sandbox: Sandbox, poster: Any) -> None:
    sandbox.control("POST", "/faults", {"endpoint": "tweets", "accept_then_hang": 1.0})
    poster.session.request = functools.partial(poster.session.request, timeout=0.3)
    with pytest.raises(requests.Timeout):
        poster.create_tweet(text="Did this go out?")
    assert [p["text"] for p in sandbox.control("GET", "/posts")] == ["Did this go out?"]
    # Sending it again blindly is what X refuses: check first, then decide.
    with pytest.raises(tweepy.Forbidden):
        poster.create_tweet(text="Did this go out?")


# -- control API ---------------------------------------------------------------------------------


def test_operator_page_escapes_post_texts(sandbox: Sandbox, poster: Any) -> None:
    question = post("@AuroraBank <b>bold</b> &amp; question")
    sandbox.publish(question)
    poster.create_tweet(
        text="<script>alert(1)</script> & answer", in_reply_to_tweet_id=question["data"]["id"]
    )
    page = requests.get(f"{sandbox.url}/_sandbox", timeout=TIMEOUT)
    assert page.headers["content-type"].startswith("text/html")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; answer" in page.text
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; question" in page.text
    assert f'href="/_sandbox/posts/{question["data"]["id"]}"' in page.text
    assert 'http-equiv="refresh"' in page.text
    assert CONFIG.consumer_secret not in page.text


def test_play_a_bundled_recording(sandbox: Sandbox) -> None:
    count = len(load_recording(DEMO_RECORDING))
    started = sandbox.control("POST", "/play", {"path": "aurora_bank_chat", "speed": 10_000})
    assert started["messages"] == count
    wait_for(lambda: sandbox.stats()["posts"] == count, "the playback to finish")
    assert not sandbox.stats()["playing"]
    assert next(iter(sandbox.state.posts)) == load_recording(DEMO_RECORDING)[0]["data"]["id"]


def test_a_second_play_cancels_the_first(sandbox: Sandbox, tmp_path: Path) -> None:
    slow = [post(f"slow {n}") for n in range(3)]
    for n, message in enumerate(slow):
        message["data"]["created_at"] = f"2026-12-03T18:00:0{n}.000Z"
    fast = [post(f"fast {n}") for n in range(3)]
    for name, messages in (("slow", slow), ("fast", fast)):
        lines = "\n".join(json.dumps(message) for message in messages)
        (tmp_path / f"{name}.jsonl").write_text(lines + "\n", encoding="utf-8")

    sandbox.control("POST", "/play", {"path": str(tmp_path / "slow.jsonl"), "speed": 4})
    sandbox.control("POST", "/play", {"path": str(tmp_path / "fast.jsonl"), "speed": 1000})
    fast_ids = {message["data"]["id"] for message in fast}
    wait_for(lambda: fast_ids <= set(sandbox.state.posts), "the second playback")
    time.sleep(0.6)  # the first one would have published its second post after 0.25 s
    assert slow[1]["data"]["id"] not in sandbox.state.posts
    assert slow[2]["data"]["id"] not in sandbox.state.posts
