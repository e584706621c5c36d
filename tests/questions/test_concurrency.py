"""Two moderators acting on one question at once: exactly one wins, never a silent overwrite."""

import asyncio
from typing import Any

import httpx

from tests.conftest import Actor, ask


async def test_two_identical_actions_at_once_one_wins(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor, moderator2: Actor
) -> None:
    for round_ in range(5):
        question = await ask(http, f"Contested question {round_}")
        url = f"/api/v1/questions/{question['id']}/approve"
        responses = await asyncio.gather(
            http.post(url, headers=moderator.headers), http.post(url, headers=moderator2.headers)
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 409], [r.text for r in responses]
        loser = next(r for r in responses if r.status_code == 409)
        assert "approved" in loser.json()["error"]["message"]
        history = await http.get(
            f"/api/v1/questions/{question['id']}/history", headers=moderator.headers
        )
        assert len(history.json()) == 1


async def test_different_actions_on_the_same_version_one_wins(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor, moderator2: Actor
) -> None:
    """Approve and reject are both legal from pending: the version each moderator saw decides,
    so the second one cannot silently undo the first one's decision."""
    for round_ in range(5):
        question = await ask(http, f"Approve or reject {round_}")
        question_version = 1
        body = {"version": question_version}
        responses = await asyncio.gather(
            http.post(
                f"/api/v1/questions/{question['id']}/approve", json=body, headers=moderator.headers
            ),
            http.post(
                f"/api/v1/questions/{question['id']}/reject", json=body, headers=moderator2.headers
            ),
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [200, 409], [r.text for r in responses]
        winner = next(r for r in responses if r.status_code == 200).json()
        loser = next(r for r in responses if r.status_code == 409).json()
        assert winner["version"] == question_version + 1
        assert f"changed by {winner['status_changed_by']}" in loser["error"]["message"]
        current = (
            await http.get(f"/api/v1/questions/{question['id']}", headers=moderator.headers)
        ).json()
        assert current["status"] == winner["status"]
