"""The demo's set-up and its autopilot, in-process and fast."""

import asyncio
import json
from pathlib import Path

import httpx
from pydantic import SecretStr

from app.config import Settings
from app.demo import DEMO_RECORDING, DEMO_SLUG, autopilot, prepare_demo
from app.main import create_app
from tests.conftest import serve_in_thread


def brand_replies() -> list[str]:
    """The texts of the brand's replies in the recording, without their leading mentions."""
    replies = []
    for line in DEMO_RECORDING.read_text(encoding="utf-8").splitlines():
        message = json.loads(line)
        data = message["data"]
        if message["includes"]["users"][0]["username"] == "AuroraBank" and any(
            r["type"] == "replied_to" for r in data.get("referenced_tweets", [])
        ):
            replies.append(" ".join(w for w in data["text"].split() if not w.startswith("@")))
    return replies


async def test_demo_comes_alive_with_answers_on_the_audience_page(tmp_path: Path) -> None:
    database = tmp_path / "demo.db"
    settings = Settings(
        demo=True,
        database_url=f"sqlite+aiosqlite:///{database}",
        secret_key=SecretStr("unused-in-demo"),
        poll_seconds=0.2,
        _env_file=None,
    )
    banner = await asyncio.to_thread(prepare_demo, settings, database, 1000)
    assert "demo-moderator" in banner
    expected = brand_replies()
    assert len(expected) >= 5
    app = create_app(settings, run_sources=True, background=[autopilot(on_air_seconds=0.1)])
    with serve_in_thread(app) as server:
        async with httpx.AsyncClient(base_url=server.url) as http:
            answered: list[str] = []
            for _ in range(150):
                snapshot = (await http.get(f"/api/v1/events/{DEMO_SLUG}/public")).json()
                answered = [q["answer"]["text"] for q in snapshot["answered"]]
                if len(answered) == len(expected):
                    break
                await asyncio.sleep(0.1)
            assert sorted(answered) == sorted(expected)
            page = await http.get(f"/live/{DEMO_SLUG}")
            assert expected[0][:30] in page.text  # in the page's embedded snapshot
            login = await http.post(
                "/login", data={"username": "moderator", "password": "demo-moderator"}
            )
            assert login.status_code == 303
            console = await http.get(f"/moderate/{DEMO_SLUG}")
            assert console.status_code == 200
