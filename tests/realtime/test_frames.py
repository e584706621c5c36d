"""An update's frame: its JSON with seq and type first, encoded before its seq is known (an
ingest batch encodes its frames before it takes the LiveEvent's lock) and completed after."""

import json
from typing import Any

import pytest

from app.realtime import service


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"question": {"id": 3, "text": 'Les frais «ça» — "final"?', "tags": [], "at": None}},
        # A channel's body may name its own type: it stays second, with the body's value.
        {"type": "question.removed", "id": 4},
    ],
)
def test_a_frame_is_the_updates_json_with_seq_and_type_first(body: dict[str, Any]) -> None:
    frame = service._encode(1234, "question", body)
    expected = {"seq": 1234, "type": "question", **body}
    assert frame == json.dumps(expected, separators=(",", ":"), ensure_ascii=False)
    assert list(json.loads(frame))[:2] == ["seq", "type"]


def test_a_body_cannot_bring_a_seq_of_its_own() -> None:
    with pytest.raises(ValueError, match="seq"):
        service._encode(1, "question", {"seq": 2})
