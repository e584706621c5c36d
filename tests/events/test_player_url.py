"""Stream URLs as operators paste them become embeddable players."""

import pytest

from app.events.service import player_url


@pytest.mark.parametrize(
    ("pasted", "player"),
    [
        (
            "https://www.youtube.com/watch?v=dQw4w9WgXcQ&t=42",
            "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ",
        ),
        ("https://youtu.be/dQw4w9WgXcQ", "https://www.youtube-nocookie.com/embed/dQw4w9WgXcQ"),
        (
            "https://www.youtube.com/live/abcDEF12345",
            "https://www.youtube-nocookie.com/embed/abcDEF12345",
        ),
        ("https://vimeo.com/76979871", "https://player.vimeo.com/video/76979871"),
        (
            "https://www.twitch.tv/aurorabank",
            "https://player.twitch.tv/?channel=aurorabank&parent=bank.example",
        ),
        ("https://player.example/embed/42?x=1", "https://player.example/embed/42?x=1"),
        ("http://insecure.example/stream", None),
        ("javascript:alert(1)", None),
        ('https://www.youtube.com/watch?v="><script>', None),
    ],
)
def test_player_url(pasted: str, player: str | None) -> None:
    assert player_url(pasted, "bank.example") == player
