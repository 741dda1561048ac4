"""Messages between the server and its report worker: pickled, each behind its 8-byte length,
over one socket pair.

Why not ``multiprocessing.Connection`` on the event loop: uvloop (uvicorn's loop when it is
installed) makes every descriptor it watches non-blocking, so ``Connection.recv`` of an answer
larger than the socket buffer raised EAGAIN halfway through it; the server took the worker for
dead and restarted it (3-15 times per start under 8 concurrent cold metric requests, every
request at 7k predictions). The event loop's end (:class:`LoopEnd`) is non-blocking under any
loop: it reads whatever has arrived into a buffer and takes out whole messages only, and writes
what the socket accepts, keeping the rest until it is writable. The worker's end blocks
(:func:`read_message`, :func:`encode` + ``sendall``).
"""

from __future__ import annotations

import asyncio
import pickle
import socket
import struct
from collections.abc import Callable
from typing import Any, BinaryIO

_HEADER = struct.Struct("!Q")
_CHUNK = 1 << 20
#: Reads per wake-up at most, so a very large answer does not hold the event loop while it
#: streams in: the loop wakes the reader again for the rest.
_READS_PER_WAKE = 8


def encode(message: Any) -> bytes:
    """``message`` as one frame: its pickle's length, then the pickle."""
    payload = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


def read_message(incoming: BinaryIO) -> Any:
    """The next message from a blocking stream; EOFError when the other end has closed."""
    header = incoming.read(_HEADER.size)
    if len(header) < _HEADER.size:
        raise EOFError("the other end closed")
    (size,) = _HEADER.unpack(header)
    payload = incoming.read(size)
    if len(payload) < size:
        raise EOFError("the other end closed mid-message")
    return pickle.loads(payload)


class FrameBuffer:
    """Bytes in as they arrive, whole frames' payloads out."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        self._data += data
        payloads: list[bytes] = []
        start = 0
        while len(self._data) - start >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._data, start)
            end = start + _HEADER.size + size
            if len(self._data) < end:
                break
            payloads.append(bytes(self._data[start + _HEADER.size : end]))
            start = end
        del self._data[:start]
        return payloads


class LoopEnd:
    """The event loop's end of the socket: ``on_message`` gets each message as it completes,
    ``on_broken`` a reason once the other end is gone (then nothing more is read or sent)."""

    def __init__(
        self,
        sock: socket.socket,
        on_message: Callable[[Any], None],
        on_broken: Callable[[str], None],
    ) -> None:
        sock.setblocking(False)
        self._sock = sock
        self._on_message = on_message
        self._on_broken = on_broken
        self._incoming = FrameBuffer()
        self._outgoing = bytearray()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Reads (and writes) on ``loop`` from now on; a message half read or half written
        carries on there."""
        self.unbind()
        self._loop = loop
        loop.add_reader(self._sock.fileno(), self._on_readable)
        if self._outgoing:
            loop.add_writer(self._sock.fileno(), self._flush)

    def unbind(self) -> None:
        loop, self._loop = self._loop, None
        if loop is not None and not loop.is_closed() and not self._closed:
            loop.remove_reader(self._sock.fileno())
            loop.remove_writer(self._sock.fileno())

    def send(self, frame: bytes) -> None:
        """Queues a frame (:func:`encode`); it goes out as fast as the socket takes it."""
        if self._closed:
            self._on_broken("the channel is closed")
            return
        self._outgoing += frame
        self._flush()

    def close(self) -> None:
        self.unbind()
        self._closed = True
        self._sock.close()

    def _flush(self) -> None:
        try:
            while self._outgoing:
                del self._outgoing[: self._sock.send(self._outgoing)]
        except BlockingIOError:
            if self._loop is not None:
                self._loop.add_writer(self._sock.fileno(), self._flush)
            return
        except OSError as exc:
            self._on_broken(f"could not write to the report worker: {exc}")
            return
        if self._loop is not None and not self._closed:
            self._loop.remove_writer(self._sock.fileno())

    def _on_readable(self) -> None:
        payloads: list[bytes] = []
        broken: str | None = None
        try:
            for _ in range(_READS_PER_WAKE):
                data = self._sock.recv(_CHUNK)
                if not data:
                    broken = "the report worker closed its end"
                    break
                payloads.extend(self._incoming.feed(data))
        except BlockingIOError:
            pass
        except OSError as exc:
            broken = f"could not read from the report worker: {exc}"
        for payload in payloads:
            try:
                message = pickle.loads(payload)
            except Exception as exc:
                broken = f"an unreadable answer: {type(exc).__name__}: {exc}"
                break
            self._on_message(message)
            if self._closed:
                return
        if broken is not None:
            self._on_broken(broken)
