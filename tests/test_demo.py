"""The demo's set-up and its autopilot, in-process and fast."""

import asyncio
import json
from pathlib import Path

import httpx

from app.demo import (
    DEMO_RECORDING,
    DEMO_SLUG,
    autopilot,
    demo_sandbox,
    demo_settings,
    mount_sandbox,
    play_recording,
    prepare_demo,
)
from app.main import create_app
from tests.conftest import _free_port, browser_login, serve_in_thread
from tests.x.conftest import wait_until


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


async def test_demo_comes_alive_through_the_x_code_path(
    tmp_path: Path, empty_database_url: str
) -> None:
    """The recorded chat arrives from the sandbox X over tweepy's stream; the brand's replies
    are answered on air and go back to (sandbox) X."""
    database = tmp_path / "demo.db"
    port = _free_port()
    # The demo's own database is a SQLite file; its seed data, sources, autopilot and worker
    # run here on the suite's backend.
    settings = demo_settings(database, port).model_copy(
        update={"database_url": empty_database_url, "poll_seconds": 0.2, "x_backoff_scale": 0.01}
    )
    banner = await asyncio.to_thread(prepare_demo, settings, database, 1000)
    assert "demo-moderator" in banner
    expected = brand_replies()
    assert len(expected) >= 5
    sandbox = demo_sandbox()
    jobs = [play_recording(sandbox, 1000), autopilot(on_air_seconds=0.1)]
    app = create_app(settings, background=jobs)
    mount_sandbox(app, sandbox)
    with serve_in_thread(app, port=port) as server:
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
            login = await browser_login(http, "moderator", "demo-moderator")
            assert login.status_code == 303
            console = await http.get(f"/moderate/{DEMO_SLUG}")
            assert console.status_code == 200
            # Every answer also went out on the fake X, as posts of the brand's account.

            async def all_sent() -> bool:
                snapshot = (await http.get(f"/api/v1/events/{DEMO_SLUG}/public")).json()
                x = [
                    d
                    for q in snapshot["answered"]
                    for d in q["answer"]["deliveries"]
                    if d["target"] == "x"
                ]
                return bool(x) and all(d["status"] == "published" for d in x)

            await wait_until(all_sent)
            assert len(sandbox.created_posts()) >= len(expected)
        sandbox.disconnect_streams()
