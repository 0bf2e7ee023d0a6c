"""FaultProxy against a tiny echo server: each control does what it says, at run time."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.netfault import FaultProxy
from tests.netfault.proxy import BUFFER_LIMIT, READ_SIZE

TIMEOUT = 3.0


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(OSError):
            while data := self.request.recv(65536):
                self.request.sendall(data)


class _Firehose(socketserver.BaseRequestHandler):
    """Sends `TOTAL` bytes at once to whoever connects (to see whether back-pressure reaches it)."""

    TOTAL = 32 * 1024 * 1024
    sent: list[int] = []  # noqa: RUF012 (one server per test, the handler class is its state)

    def handle(self) -> None:
        block = b"x" * 65536
        with contextlib.suppress(OSError):
            for _ in range(self.TOTAL // len(block)):
                self.request.sendall(block)
                self.sent.append(len(block))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _serve(handler: type[socketserver.BaseRequestHandler]) -> Iterator[str]:
    server = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True).start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def echo() -> Iterator[str]:
    yield from _serve(_Echo)


@pytest.fixture
def proxy(echo: str) -> Iterator[FaultProxy]:
    with FaultProxy(echo) as running:
        yield running


def connect(proxy: FaultProxy, timeout: float = TIMEOUT) -> socket.socket:
    host, port = proxy.address.split(":")
    return socket.create_connection((host, int(port)), timeout=timeout)


def recv_exactly(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        piece = sock.recv(size - len(data))
        assert piece, f"connection closed after {len(data)} of {size} bytes"
        data += piece
    return data


def wait_until(condition: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> bytes:
    sock.sendall(payload)
    return recv_exactly(sock, len(payload))


def test_passes_bytes_through_and_counts_them(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        assert round_trip(sock, b"hello") == b"hello"
        wait_until(lambda: proxy.bytes_down == 5, "the echo to be counted")
        assert proxy.bytes_up == 5
        assert proxy.connections == 1 and proxy.open_connections == 1
        assert len(proxy.connection_times) == 1
    wait_until(lambda: proxy.open_connections == 0, "the closed connection to be dropped")


def test_latency_delays_each_direction_on_an_open_connection(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        round_trip(sock)  # open before the fault: the change applies to it too
        proxy.set_latency(0.15)
        start = time.monotonic()
        assert round_trip(sock) == b"ping"
        assert time.monotonic() - start >= 0.3  # 0.15 s up, 0.15 s down


def test_jitter_never_reorders_the_stream(proxy: FaultProxy) -> None:
    proxy.set_latency(0.02, jitter=0.08)
    with connect(proxy) as sock:
        messages = [f"<{i:03d}>".encode() for i in range(40)]
        for message in messages:
            sock.sendall(message)
        assert recv_exactly(sock, sum(map(len, messages))) == b"".join(messages)


def test_bandwidth_bounds_the_bytes_over_a_window(proxy: FaultProxy) -> None:
    rate = 40_000
    payload = b"y" * 20_000
    with connect(proxy) as sock:
        proxy.set_bandwidth(rate)
        start = time.monotonic()
        sock.sendall(payload)
        assert recv_exactly(sock, len(payload)) == payload
        elapsed = time.monotonic() - start
    # 20 kB at 40 kB/s is 0.5 s each way (the two directions overlap); one 50 ms slice may burst.
    assert elapsed >= len(payload) / rate - 0.06, elapsed


def test_a_throttled_link_pushes_back_on_the_sender() -> None:
    """The proxy stops reading at its buffer limit: the server's writes block, as on a slow link."""
    _Firehose.sent = []
    for address in _serve(_Firehose):
        with FaultProxy(address) as proxy:
            proxy.set_bandwidth(20_000)
            with connect(proxy) as sock:
                wait_until(lambda: proxy.bytes_down >= 10_000, "a trickle to arrive")
                wait_until(lambda: proxy.buffered >= BUFFER_LIMIT, "the proxy's buffer to fill")
                assert proxy.buffered <= BUFFER_LIMIT + READ_SIZE
                assert sum(_Firehose.sent) < _Firehose.TOTAL  # the sender is held, not drained
                sock.recv(1024)


def test_blackhole_holds_open_and_new_connections_silent(proxy: FaultProxy) -> None:
    with connect(proxy, timeout=0.3) as old:
        round_trip(old)
        proxy.blackhole()
        old.sendall(b"lost?")
        with pytest.raises(TimeoutError):
            old.recv(16)  # nothing comes back, and the socket is neither closed nor reset
        with connect(proxy, timeout=0.3) as new:
            new.sendall(b"new")
            with pytest.raises(TimeoutError):
                new.recv(16)
            assert proxy.open_connections == 2
            proxy.restore()
            new.settimeout(TIMEOUT)
            old.settimeout(TIMEOUT)
            assert recv_exactly(new, 3) == b"new"  # held, not lost: TCP delivers once the path is back
            assert recv_exactly(old, 5) == b"lost?"


def test_reset_sends_an_rst_on_every_open_connection(proxy: FaultProxy) -> None:
    with connect(proxy) as first, connect(proxy) as second:
        round_trip(first)
        round_trip(second)
        proxy.reset()
        for sock in (first, second):
            with pytest.raises(ConnectionResetError):
                sock.recv(16)
                sock.sendall(b"x")  # should the RST race the recv, the next write sees it
                sock.recv(16)
        assert proxy.open_connections == 0
    with connect(proxy) as third:
        assert round_trip(third) == b"ping"  # a reset is a moment, not a state


def test_refuse_counted_accepts_then_resets(proxy: FaultProxy) -> None:
    proxy.refuse()
    for _ in range(3):
        with pytest.raises(ConnectionResetError), connect(proxy) as sock:
            sock.sendall(b"x")
            sock.recv(16)
    assert proxy.connections == 3 and proxy.open_connections == 0
    proxy.refuse(False)
    with connect(proxy) as sock:
        assert round_trip(sock) == b"ping"


def test_refuse_uncounted_closes_the_listener_and_reopens_the_port(proxy: FaultProxy) -> None:
    address = proxy.address
    with connect(proxy) as held:
        round_trip(held)
        proxy.refuse(counted=False)
        with pytest.raises(ConnectionRefusedError):
            connect(proxy)
        assert round_trip(held) == b"ping"  # open connections are untouched
    assert proxy.connections == 1
    proxy.refuse(False)
    assert proxy.address == address
    with connect(proxy) as sock:
        assert round_trip(sock) == b"ping"


def test_restore_turns_every_fault_off(proxy: FaultProxy) -> None:
    proxy.set_latency(5.0)
    proxy.set_bandwidth(10)
    proxy.blackhole()
    proxy.refuse(counted=False)
    proxy.restore()
    with connect(proxy) as sock:
        start = time.monotonic()
        assert round_trip(sock, b"z" * 4096) == b"z" * 4096
        assert time.monotonic() - start < 1.0  # neither 5 s of latency nor 10 B/s is left


def test_a_dead_upstream_resets_the_client() -> None:
    with socket.socket() as spare:
        spare.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{spare.getsockname()[1]}"  # bound, never listening: refuses
    with FaultProxy(address) as proxy, pytest.raises(ConnectionResetError), connect(proxy) as sock:
        sock.sendall(b"x")
        sock.recv(16)


def test_only_loopback_upstreams() -> None:
    with pytest.raises(ValueError, match="loopback"):
        FaultProxy("example.com:443")
