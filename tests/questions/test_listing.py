"""Listing with filters and search, counters, and marking a question answered out loud."""

from typing import Any

import httpx

from tests.conftest import Actor, ask


async def test_filters_search_and_counts(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor
) -> None:
    first = await ask(http, "What about 100% green savings?")
    await ask(http, "Quels sont vos frais ?")
    third = await ask(http, "Green bonds, when?")
    await http.patch(
        f"/api/v1/questions/{first['id']}", json={"category": "question"}, headers=moderator.headers
    )
    await http.patch(
        f"/api/v1/questions/{third['id']}",
        json={"category": "complaint"},
        headers=moderator.headers,
    )
    # A complaint goes to the complaints desk, not the stage (tests/complaints).
    refused = await http.post(f"/api/v1/questions/{third['id']}/approve", headers=moderator.headers)
    assert refused.status_code == 409
    await http.post(f"/api/v1/questions/{first['id']}/approve", headers=moderator.headers)

    async def ids(query: str) -> list[Any]:
        response = await http.get(
            f"/api/v1/events/ask-test/questions?{query}", headers=moderator.headers
        )
        assert response.status_code == 200, response.text
        return [q["id"] for q in response.json()["items"]]

    assert await ids("q=GREEN") == [first["id"], third["id"]]
    assert await ids("q=100%25") == [first["id"]], "% is searched for, not a wildcard"
    assert await ids("q=green&status=pending") == [third["id"]]
    assert await ids("category=complaint") == [third["id"]]
    assert await ids("source=audience&limit=1") == [first["id"]]
    assert await ids("source=x") == []
    bad = await http.get(
        "/api/v1/events/ask-test/questions?category=gossip", headers=moderator.headers
    )
    assert bad.status_code == 422
    counts = (await http.get("/api/v1/events/ask-test/counts", headers=moderator.headers)).json()
    assert counts["status"]["pending"] == 2
    assert counts["status"]["approved"] == 1
    assert counts["status"]["rejected"] == 0
    assert counts["category"] == {"question": 1, "complaint": 1, "uncategorised": 1}


async def test_mark_answered_out_loud_can_be_undone(
    http: httpx.AsyncClient, live_event: dict[str, Any], spokesperson: Actor, moderator: Actor
) -> None:
    question = await ask(http, "Answered on stream?")
    url = f"/api/v1/questions/{question['id']}"
    await http.post(f"{url}/approve", headers=moderator.headers)
    done = await http.post(f"{url}/mark-answered", headers=spokesperson.headers)
    assert done.json()["status"] == "answered"
    assert done.json()["answer"] is None
    public = (await http.get("/api/v1/events/ask-test/public")).json()
    assert [q["id"] for q in public["answered"]] == [question["id"]]
    undone = await http.post(f"{url}/undo", headers=moderator.headers)
    assert undone.json()["status"] == "approved"


async def test_pending_pages_list_rumours_first_then_the_rest_oldest_first(
    http: httpx.AsyncClient, live_event: dict[str, Any], moderator: Actor
) -> None:
    """Rumours are reviewed first: page after page, every pending rumour comes before the
    other questions, each part oldest first, with nothing skipped or repeated."""
    ids = [int(str((await ask(http, f"Question number {n}?"))["id"])) for n in range(7)]
    rumours = [ids[1], ids[4], ids[6]]
    for question_id in rumours:
        response = await http.patch(
            f"/api/v1/questions/{question_id}",
            json={"category": "rumour"},
            headers=moderator.headers,
        )
        assert response.status_code == 200, response.text
    seen: list[int] = []
    offset: int | None = 0
    while offset is not None:
        page = await http.get(
            f"/api/v1/events/ask-test/questions?status=pending&limit=2&offset={offset}",
            headers=moderator.headers,
        )
        assert page.status_code == 200, page.text
        seen += [q["id"] for q in page.json()["items"]]
        offset = page.json()["next_offset"]
    assert seen == [*rumours, ids[0], ids[2], ids[3], ids[5]]
