"""Prebuilt WebSocket frames: one update's bytes on the wire, written to thousands of sockets.

A server-to-client frame is not masked, so with per-message deflate off (the default) the
bytes of a text frame are the same on every socket. websockets' own ``broadcast()`` still
builds the frame once per connection; through ASGI it is worse, as each ``send`` is a chain
of coroutines down to the server, which encodes the text and builds the frame again. For an
audience of 10,000 that is most of a delivery's cost in Python.

So Tribune runs uvicorn with the protocol below: uvicorn's own (websockets' sans-I/O
protocol), plus an ASGI scope extension, ``tribune.prebuilt_frames``, whose ``write`` puts a
prebuilt frame on the socket at once, or declines (returns False) whenever that would not be
exactly what uvicorn's ``send`` does: before the handshake or after a close, with deflate on,
while the transport is paused for a slow reader, or in the middle of a fragmented message.
A declined write goes through the ASGI ``send`` as usual, so the app works the same on any
ASGI server; this one only makes the common case cheap. tests/realtime/test_wire.py checks
that the installed uvicorn still takes the fast path and that both paths put the same bytes
on the wire.
"""

from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.protocol import State

# The scope extension's name: ``scope["extensions"][PREBUILT_FRAMES]["write"](frame) -> bool``.
PREBUILT_FRAMES = "tribune.prebuilt_frames"

# What the extension offers: write these bytes (one whole frame) now, or say no.
WriteFrame = Callable[[bytes], bool]


def text_frame(text: str) -> bytes:
    """``text`` as one unmasked, uncompressed WebSocket text frame, as a server sends it."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


def frame_writer(scope: Any) -> WriteFrame | None:
    """The server's prebuilt-frame writer for this connection, if it offers one."""
    extension = scope.get("extensions", {}).get(PREBUILT_FRAMES)
    return None if extension is None else extension["write"]


class PrebuiltFramesProtocol(WebSocketsSansIOProtocol):
    """uvicorn's ``websockets-sansio`` protocol, offering ``tribune.prebuilt_frames``."""

    async def run_asgi(self) -> None:
        # Set before the app first runs: run_asgi is the connection's task, started once the
        # handshake request is parsed and the scope built.
        self.scope["extensions"][PREBUILT_FRAMES] = {"write": self.write_frame}
        await super().run_asgi()

    def write_frame(self, frame: bytes) -> bool:
        """Write one prebuilt frame if uvicorn's ``send`` would send it as it is, unblocked."""
        conn = self.conn
        if (
            not self.handshake_complete
            or self.close_sent
            or self.disconnected
            or self.initial_response is not None
            or not self.writable.is_set()  # paused: the slow path waits for the reader
            or conn.state is not State.OPEN
            or conn.extensions  # deflate compresses per socket: the bytes differ
            or conn.expect_continuation_frame
            or self.transport.is_closing()
        ):
            return False
        self.transport.write(frame)
        return True
