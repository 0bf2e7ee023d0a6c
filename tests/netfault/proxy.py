"""FaultProxy: a loopback TCP proxy whose link faults a test switches at run time.

The proxy runs its own asyncio loop in a daemon thread, so a test drives it the same way whether it
is async, sync, or talks to a subprocess: every control is a plain call that returns once the
proxy's loop has applied it, to the open connections and to the ones that come later.

    with FaultProxy(sim.address) as proxy:
        feed = Feed(config=replace(config, endpoint=proxy.address))
        proxy.blackhole()
        ...
        proxy.restore()

Each direction of each connection is a reader (source socket → a bounded buffer) and a writer
(buffer → destination, through latency, blackhole and the bandwidth limit). The reader stops
reading once its buffer holds `BUFFER_LIMIT` bytes, so a throttled or blackholed link pushes back
on the sender through TCP flow control, as a real slow link does (the server's HTTP/2 windows fill
and its writes block), instead of the proxy swallowing the stream into memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

BUFFER_LIMIT = 64 * 1024
"""Bytes a direction may hold before its reader stops reading (the back-pressure point)."""
READ_SIZE = 16 * 1024
SLICE_S = 0.05
"""A throttled direction writes at most this many seconds' worth of bytes at a time."""
LOOPBACK = ("127.0.0.1", "localhost")

Up, Down = "up", "down"


def _rst(sock: socket.socket | None) -> None:
    """Closes `sock` with an RST (SO_LINGER 0) rather than a FIN."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


@dataclass
class _Chunk:
    data: bytes
    read_at: float
    jitter: float


@dataclass
class _Pipe:
    """One direction's buffer: chunks read and not yet written, and whether the source ended."""

    chunks: deque[_Chunk] = field(default_factory=deque)
    size: int = 0
    ended: bool = False
    moved: asyncio.Event = field(default_factory=asyncio.Event)

    def put(self, chunk: _Chunk) -> None:
        self.chunks.append(chunk)
        self.size += len(chunk.data)
        self.moved.set()

    def end(self) -> None:
        self.ended = True
        self.moved.set()

    async def changed(self) -> None:
        self.moved.clear()
        await self.moved.wait()


class _Conn:
    """One proxied connection: the client's socket, the upstream's, and its pump tasks."""

    def __init__(self, client: socket.socket) -> None:
        self.client = client
        self.upstream: Any = None  # the upstream transport's socket, once connected
        self.tasks: list[asyncio.Task[None]] = []
        self.writers: list[asyncio.StreamWriter] = []
        self.pipes: list[_Pipe] = []

    def reset(self) -> list[asyncio.Task[None]]:
        """RSTs both sides now; returns the tasks it cancelled (to be awaited on shutdown)."""
        current = asyncio.current_task()
        cancelled = [t for t in self.tasks if t is not current and not t.done()]
        for task in cancelled:
            task.cancel()
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        for writer in self.writers:
            writer.transport.abort()  # closes the socket: with SO_LINGER 0 that sends the RST
        if not self.writers:
            _rst(self.client)
        return cancelled


class FaultProxy:
    """A TCP proxy on 127.0.0.1 in front of `upstream` ("host:port", loopback only).

    Counters (read them from any thread): `connections` (TCP connections accepted, the counted
    refusals included), `open_connections`, `bytes_up` (client → upstream, delivered),
    `bytes_down` (upstream → client, delivered) and `connection_times` (time.monotonic() of each
    accept, for connections per minute of an outage).

    The bandwidth limit is per direction and shared by all connections (it is the link's).
    """

    def __init__(self, upstream: str, *, seed: int = 0) -> None:
        host, _, port = upstream.rpartition(":")
        if host not in LOOPBACK and not host.startswith("127."):
            raise ValueError(f"FaultProxy proxies to loopback only, not {host!r}")
        self.upstream = (host, int(port))
        self.port = 0
        self.connections = 0
        self.bytes_up = 0
        self.bytes_down = 0
        self._times: list[float] = []
        self._latency = 0.0
        self._jitter = 0.0
        self._rate: float | None = None
        self._blackhole = False
        self._refuse: bool | None = None  # None: accept; True: counted RST; False: listener closed
        self._rng = random.Random(seed)
        self._conns: set[_Conn] = set()
        self._free_at = {Up: 0.0, Down: 0.0}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._listener: socket.socket | None = None
        self._accepting: asyncio.Task[None] | None = None
        self._changed: asyncio.Event | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *_exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        self._call(self._open)

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._await(self._shutdown())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()
        self._loop = self._thread = None

    # -- controls (any thread) -----------------------------------------------------------------

    def set_latency(self, seconds: float, jitter: float = 0.0) -> None:
        """One-way delay of every chunk in each direction, plus uniform [0, jitter) (order kept)."""
        self._set(_latency=max(0.0, seconds), _jitter=max(0.0, jitter))

    def set_bandwidth(self, bytes_per_s: float | None) -> None:
        """Limits each direction to `bytes_per_s` (None: unlimited)."""
        self._set(_rate=None if bytes_per_s is None else max(1.0, float(bytes_per_s)))

    def blackhole(self, on: bool = True) -> None:
        """Forwards nothing either way; sockets stay open and new connections are held silent."""
        self._set(_blackhole=on)

    def reset(self) -> None:
        """Sends an RST on every open connection, both sides, now."""
        self._call(self._reset_all)

    def refuse(self, on: bool = True, counted: bool = True) -> None:
        """New connections fail: accepted and RST at once (`counted`), or refused by the kernel
        (the listener closed, ECONNREFUSED; reopened on the same port when turned off)."""
        self._await(self._set_refuse(counted if on else None))

    def restore(self) -> None:
        """Every fault off: no latency, no limit, no blackhole, accepting."""
        self._set(_latency=0.0, _jitter=0.0, _rate=None, _blackhole=False)
        self.refuse(False)

    @property
    def open_connections(self) -> int:
        return len(self._conns)

    @property
    def connection_times(self) -> list[float]:
        return list(self._times)

    @property
    def buffered(self) -> int:
        """Bytes read and not yet forwarded, all connections and directions (back-pressure check)."""
        return sum(pipe.size for conn in list(self._conns) for pipe in conn.pipes)

    # -- the proxy's loop ----------------------------------------------------------------------

    def _call(self, fn: Callable[[], T]) -> T:
        """Runs `fn` on the proxy's loop and returns its result, once it ran."""

        async def run() -> T:
            return fn()

        return self._await(run())

    def _await(self, coro: Coroutine[Any, Any, T]) -> T:
        loop = self._loop
        if loop is None:
            coro.close()
            raise RuntimeError("the proxy is not running")
        if threading.current_thread() is self._thread:
            coro.close()
            raise RuntimeError("proxy controls are for the test's thread, not the proxy's")
        return asyncio.run_coroutine_threadsafe(coro, loop).result(10)

    def _set(self, **values: Any) -> None:
        def apply() -> None:
            for name, value in values.items():
                setattr(self, name, value)
            self._notify()

        self._call(apply)

    def _notify(self) -> None:
        """Wakes every writer waiting on a delay, a blackhole or the bucket: the settings moved."""
        if self._changed is not None:
            self._changed.set()
        self._changed = asyncio.Event()

    async def _settled(self, timeout: float | None) -> None:
        """Waits until the settings change or `timeout` passes (None: only the change)."""
        changed = self._changed
        assert changed is not None
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), timeout)

    def _open(self) -> None:
        self._notify()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        sock.listen(128)
        sock.setblocking(False)
        self.port = sock.getsockname()[1]
        self._listener = sock
        self._accepting = asyncio.get_running_loop().create_task(self._accept(sock))

    async def _close_listener(self) -> None:
        """Stops accepting, then closes the socket (not before: its fd is still being watched)."""
        accepting, listener = self._accepting, self._listener
        self._listener = self._accepting = None
        if accepting is not None:
            accepting.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await accepting
        if listener is not None:
            listener.close()

    async def _set_refuse(self, mode: bool | None) -> None:
        self._refuse = mode
        if mode is False:
            await self._close_listener()
        elif self._listener is None:
            self._open()

    def _reset_all(self) -> list[asyncio.Task[None]]:
        cancelled = [task for conn in list(self._conns) for task in conn.reset()]
        self._conns.clear()
        return cancelled

    async def _shutdown(self) -> None:
        await self._close_listener()
        cancelled = self._reset_all()
        if cancelled:
            await asyncio.wait(cancelled, timeout=2)

    async def _accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            client, _ = await loop.sock_accept(listener)
            self.connections += 1
            self._times.append(time.monotonic())
            if self._refuse:
                _rst(client)
                continue
            conn = _Conn(client)
            self._conns.add(conn)
            conn.tasks.append(loop.create_task(self._serve(conn)))

    async def _serve(self, conn: _Conn) -> None:
        """Connects upstream (once no blackhole holds the link) and pumps both directions."""
        loop = asyncio.get_running_loop()
        try:
            while self._blackhole:
                await self._settled(None)
            c_reader, c_writer = await asyncio.open_connection(sock=conn.client)
            conn.writers.append(c_writer)
            try:
                u_reader, u_writer = await asyncio.open_connection(*self.upstream)
            except OSError:
                conn.reset()  # nothing listens upstream: the client sees its connection reset
                return
            conn.upstream = u_writer.get_extra_info("socket")
            conn.writers.append(u_writer)
            up, down = _Pipe(), _Pipe()
            conn.pipes += (up, down)
            pumps = [
                loop.create_task(self._read(c_reader, up)),
                loop.create_task(self._write(up, u_writer, Up)),
                loop.create_task(self._read(u_reader, down)),
                loop.create_task(self._write(down, c_writer, Down)),
            ]
            conn.tasks += pumps
            done, _ = await asyncio.wait(pumps, return_when=asyncio.FIRST_EXCEPTION)
            if any(not t.cancelled() and t.exception() is not None for t in done):
                conn.reset()  # one side was reset: so is the other, as through a real path
            else:
                for writer in conn.writers:
                    writer.close()
        finally:
            self._conns.discard(conn)

    async def _read(self, src: asyncio.StreamReader, pipe: _Pipe) -> None:
        while True:
            while pipe.size >= BUFFER_LIMIT:
                await pipe.changed()  # back-pressure: leave the rest in the kernel's buffers
            data = await src.read(READ_SIZE)
            if not data:
                pipe.end()
                return
            pipe.put(_Chunk(data, time.monotonic(), self._rng.uniform(0.0, self._jitter)))

    async def _write(self, pipe: _Pipe, dst: asyncio.StreamWriter, way: str) -> None:
        last_due = 0.0
        while True:
            if not pipe.chunks:
                if pipe.ended:
                    with contextlib.suppress(OSError):
                        dst.write_eof()
                    return
                await pipe.changed()
                continue
            chunk = pipe.chunks[0]
            # Held until due: read time + the latency now in force + its jitter, never before the
            # previous chunk (so jitter never reorders the byte stream).
            while True:
                due = max(last_due, chunk.read_at + self._latency + chunk.jitter)
                wait = due - time.monotonic()
                if self._blackhole:
                    await self._settled(None)
                elif wait > 0:
                    await self._settled(wait)
                else:
                    break
            last_due = due
            await self._send(chunk.data, dst, way)
            pipe.chunks.popleft()
            pipe.size -= len(chunk.data)
            pipe.moved.set()

    async def _send(self, data: bytes, dst: asyncio.StreamWriter, way: str) -> None:
        """Writes `data`, paced by the direction's bucket; a blackhole stops it mid-chunk."""
        view = memoryview(data)
        while view:
            if self._blackhole:
                await self._settled(None)
                continue
            rate = self._rate
            if rate is None:
                piece = view
            else:
                now = time.monotonic()
                free_at = max(now, self._free_at[way])
                if free_at > now:
                    await self._settled(free_at - now)
                    continue
                piece = view[: max(1, int(rate * SLICE_S))]
                self._free_at[way] = free_at + len(piece) / rate
            dst.write(piece)
            await dst.drain()
            if way == Up:
                self.bytes_up += len(piece)
            else:
                self.bytes_down += len(piece)
            view = view[len(piece) :]
