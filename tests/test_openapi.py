"""The public contract is in the OpenAPI document, so clients can be generated from it."""

import httpx

CONTRACT = {
    "/api/v1/events": {"post"},
    "/api/v1/events/{slug}": {"get"},
    "/api/v1/events/{slug}/questions": {"get", "post"},
    "/api/v1/questions/{question_id}/approve": {"post"},
    "/api/v1/questions/{question_id}/reject": {"post"},
    "/api/v1/questions/{question_id}/on-air": {"post"},
    "/api/v1/questions/{question_id}/archive": {"post"},
    "/api/v1/questions/{question_id}/undo": {"post"},
    "/api/v1/questions/{question_id}/answers": {"post"},
}


async def test_openapi_lists_the_contract(http: httpx.AsyncClient) -> None:
    document = (await http.get("/openapi.json")).json()
    for path, methods in CONTRACT.items():
        assert path in document["paths"], path
        assert methods <= set(document["paths"][path]), path
    # Pages are not API.
    assert "/moderate/{slug}" not in document["paths"]
