"""Prebuilt frames (app.realtime.wire): the same bytes as uvicorn's own send, taken by the
installed uvicorn, and declined whenever the plain ASGI send must do the work."""

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send
from websockets.asyncio.client import connect
from websockets.protocol import State
from websockets.server import ServerProtocol

from app.realtime import wire
from app.realtime.wire import PrebuiltFramesProtocol, frame_writer, text_frame
from tests.conftest import LiveServer, ask, serve_in_thread
from tests.wsclient import Channel


@pytest.mark.parametrize("size", [0, 5, 125, 126, 65_535, 65_536, 200_000])
def test_a_prebuilt_frame_is_what_the_protocol_would_send(size: int) -> None:
    # Every length encoding (7-bit, 16-bit, 64-bit) and non-ASCII text.
    text = ("é" * size)[: max(size // 2, 0)] + "x" * (size - size // 2)
    protocol = ServerProtocol()
    protocol.state = State.OPEN
    protocol.send_text(text.encode())
    assert protocol.data_to_send() == [text_frame(text)]


class _Probe:
    """Reports what the writer said before accepting and after; after the close, whether it
    still writes. A plain ASGI app, as Tribune's channel socket is."""

    def __init__(self) -> None:
        self.after_close: bool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        write = frame_writer(scope)
        assert write is not None
        before = write(text_frame("too early"))
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        after = write(text_frame(f"before accept: {before}"))
        await send({"type": "websocket.send", "text": f"written after accept: {after}"})
        message = await receive()
        await send({"type": "websocket.close", "code": 1000})
        # Nothing may follow a close frame.
        self.after_close = write(text_frame(message.get("text", "")))


async def test_the_installed_uvicorn_offers_the_writer_and_it_declines_out_of_state() -> None:
    app, probe = FastAPI(), _Probe()
    app.router.routes.append(WebSocketRoute("/", probe))
    with serve_in_thread(app) as server:
        async with connect(f"{server.ws_url}/") as ws:
            assert await ws.recv() == "before accept: False"
            assert await ws.recv() == "written after accept: True"
            await ws.send("bye")
            await ws.wait_closed()
        assert ws.close_code == 1000
        for _ in range(100):  # the app finishes on the server's loop, just after the close
            if probe.after_close is not None:
                break
            await asyncio.sleep(0.01)
    assert probe.after_close is False


async def test_audience_updates_go_out_as_prebuilt_frames(
    http: httpx.AsyncClient,
    live_server: LiveServer,
    live_event: dict[str, Any],
    moderator: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written: list[bytes] = []
    original = PrebuiltFramesProtocol.write_frame

    def counting(self: PrebuiltFramesProtocol, frame: bytes) -> bool:
        taken = original(self, frame)
        if taken:
            written.append(frame)
        return taken

    monkeypatch.setattr(wire.PrebuiltFramesProtocol, "write_frame", counting)
    question = await ask(http, "Will branches open on Sundays?")
    async with Channel(f"{live_server.ws_url}/ws/events/ask-test/public?after=0") as ws:
        await ws.recv()  # hello
        for action in ("approve", "on-air"):
            response = await http.post(
                f"/api/v1/questions/{question['id']}/{action}", headers=moderator.headers
            )
            assert response.status_code == 200, response.text
        got = await ws.updates_until(await _last_seq(http))
    assert got[-1]["question"]["status"] == "on_air"
    # What the client parsed is what went out prebuilt.
    assert written, "no update took the prebuilt path"
    assert any(b"on_air" in frame for frame in written)


async def _last_seq(http: httpx.AsyncClient) -> int:
    return int((await http.get("/api/v1/events/ask-test")).json()["last_seq"])
