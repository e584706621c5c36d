"""The `tribune` command, run as an operator would."""

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from app.cli import cli
from app.config import get_settings
from app.demo import DEMO_RECORDING, DEMO_SLUG
from app.ingest.base import Source
from app.ingest.runner import play
from tests.conftest import TEST_SECRET, _free_port

runner = CliRunner()


@pytest.fixture
def env(empty_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    values = {
        "TRIBUNE_DATABASE_URL": empty_database_url,
        "TRIBUNE_SECRET_KEY": TEST_SECRET,
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    yield values
    get_settings.cache_clear()


def invoke(*args: str, stdin: str | None = None) -> str:
    result = runner.invoke(cli, list(args), input=stdin)
    assert result.exit_code == 0, result.output
    return result.output


def test_operator_workflow(env: dict[str, str]) -> None:
    assert "up to date" in invoke("db", "upgrade")
    assert "created moderator mo" in invoke(
        "user", "create", "mo", "--role", "moderator", "--password-stdin", stdin="long-password\n"
    )
    token = invoke("token", "create", "mo").strip()
    assert re.fullmatch(r"trb_[A-Za-z0-9_-]{40,}", token)
    assert "created LiveEvent aurora" in invoke(
        "event",
        "create",
        "--slug",
        "aurora",
        "--title",
        "Aurora Q&A",
        "--hashtag",
        "AskAurora",
        "--answering-handle",
        "AuroraBank",
    )
    output = invoke("replay", str(DEMO_RECORDING), "--event", "aurora", "--speed", "10000")
    posts = len(DEMO_RECORDING.read_text(encoding="utf-8").splitlines())
    assert f"{posts} posts: {posts} new, 0 already stored" in output
    again = invoke("replay", str(DEMO_RECORDING), "--event", "aurora", "--speed", "10000")
    assert f"0 new, {posts} already stored, 0 questions" in again


def test_replay_stores_a_backlog_in_transactions_of_the_configured_size(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRIBUNE_INGEST_BATCH_SIZE", "7")
    get_settings.cache_clear()
    played: list[int] = []

    async def spy(source: Source, *args: Any) -> None:
        played.append(source.max_batch)
        await play(source, *args)

    monkeypatch.setattr("app.cli.play", spy)
    invoke("db", "upgrade")
    invoke("event", "create", "--slug", "aurora", "--title", "Aurora", "--hashtag", "AskAurora")
    output = invoke("replay", str(DEMO_RECORDING), "--event", "aurora", "--speed", "10000")
    posts = len(DEMO_RECORDING.read_text(encoding="utf-8").splitlines())
    assert f"{posts} posts: {posts} new" in output
    assert played == [7]


def test_mistakes_are_explained(env: dict[str, str]) -> None:
    invoke("db", "upgrade")
    short = runner.invoke(
        cli, ["user", "create", "x", "--role", "admin", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1
    assert "at least 8 characters" in short.output
    bad_role = runner.invoke(cli, ["user", "create", "x", "--role", "boss"])
    assert bad_role.exit_code == 2
    missing = runner.invoke(cli, ["token", "create", "ghost"])
    assert missing.exit_code == 1
    assert "no user 'ghost'" in missing.output
    bad_slug = runner.invoke(
        cli, ["event", "create", "--slug", "Not OK", "--title", "t", "--hashtag", "x"]
    )
    assert bad_slug.exit_code == 1
    assert "slug" in bad_slug.output
    no_event = runner.invoke(cli, ["replay", str(DEMO_RECORDING), "--event", "nope"])
    assert no_event.exit_code == 1
    assert "no LiveEvent with slug 'nope'" in no_event.output


def test_serve_refuses_the_placeholder_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite on both runs: a database file that does not appear is what proves it touched
    # nothing.
    monkeypatch.setenv("TRIBUNE_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 's.db'}")
    monkeypatch.delenv("TRIBUNE_SECRET_KEY", raising=False)
    monkeypatch.delenv("TRIBUNE_DEMO", raising=False)
    get_settings.cache_clear()
    try:
        result = runner.invoke(cli, ["serve"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 1
    assert "TRIBUNE_SECRET_KEY" in result.output
    assert not (tmp_path / "s.db").exists(), "it refuses before touching anything"


def test_demo_serves_replayed_questions_within_ten_seconds(tmp_path: Path) -> None:
    # SQLite on both runs: `tribune demo` always makes a fresh SQLite file (--database).
    port = _free_port()
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith("TRIBUNE_")}
    process = subprocess.Popen(  # noqa: S603 - our own command, fixed arguments
        [
            sys.executable,
            "-m",
            "app",
            "demo",
            "--port",
            str(port),
            "--speed",
            "2",
            "--database",
            str(tmp_path / "demo.db"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=clean_env,
        cwd=tmp_path,
    )
    try:
        started = time.monotonic()
        assert process.stdout is not None
        banner = ""
        while "Ctrl-C" not in banner:
            line = process.stdout.readline()
            assert line, f"demo exited early: {banner}"
            banner += line
        token = re.search(r"Bearer (trb_[A-Za-z0-9_-]+)", banner)
        assert token, banner
        for page in ("moderate", "present", "live"):
            assert f"http://127.0.0.1:{port}/{page}/{DEMO_SLUG}" in banner
        items: list[object] = []
        while time.monotonic() - started < 10 and not items:
            try:
                response = httpx.get(
                    f"http://127.0.0.1:{port}/api/v1/events/{DEMO_SLUG}/questions?status=pending",
                    headers={"Authorization": f"Bearer {token.group(1)}"},
                    timeout=2,
                )
                items = response.json()["items"]
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        assert items, "no replayed question was listed within 10 s of start"
    finally:
        process.terminate()
        process.wait(10)
        if process.stdout is not None:
            process.stdout.close()


def test_user_list_disable_and_set_password(env: dict[str, str]) -> None:
    invoke("db", "upgrade")
    invoke(
        "user", "create", "mo", "--role", "moderator", "--password-stdin", stdin="long-password\n"
    )
    invoke(
        "user",
        "create",
        "claire",
        "--role",
        "spokesperson",
        "--password-stdin",
        stdin="long-password\n",
    )
    listing = invoke("user", "list")
    assert re.search(r"claire\s+spokesperson\s+active", listing)
    assert "changed" in invoke(
        "user", "set-password", "mo", "--password-stdin", stdin="another-long-password\n"
    )
    assert "disabled mo" in invoke("user", "disable", "mo")
    assert re.search(r"mo\s+moderator\s+disabled", invoke("user", "list"))
    short = runner.invoke(
        cli, ["user", "set-password", "claire", "--password-stdin"], input="short\n"
    )
    assert short.exit_code == 1
