"""The feed's channel owner: one grpc.aio channel at a time, replaced only by a stream attempt."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import grpc
import structlog
from grpc import aio

log = structlog.get_logger()

T = TypeVar("T")
S = TypeVar("S")

_STUCK = frozenset({grpc.ChannelConnectivity.TRANSIENT_FAILURE, grpc.ChannelConnectivity.CONNECTING})


class Connection:
    """Holds the feed's current channel and decides when a new TCP/TLS connect goes out.

    gRPC core reconnects a failed channel on its own timer, whether or not a call waits, and
    Python grpc cannot reset that timer. So the channel is built with a core backoff longer than
    any feed delay (`channel.RECONNECT_BACKOFF_MS`): once its connect failed it stays failed, and
    the next stream attempt (`for_attempt`, on the feed's backoff) replaces it with a new channel,
    whose first call connects at once. One connect per feed attempt, none in between.

    Every user takes the channel at call time (`channel`, `stub`, `call`), never keeps one: a
    call caught on a replaced channel is cancelled by its close and goes out again on the new one.

    Args:
        factory: builds a new channel (inside the running loop).
    """

    def __init__(self, factory: Callable[[], aio.Channel]) -> None:
        self._factory = factory
        self._channel: aio.Channel | None = None
        self._stubs: dict[Any, Any] = {}
        self._replaced = asyncio.Event()
        self._closing: set[asyncio.Task[None]] = set()
        self._renewable = True
        self.renewals = 0
        """Channels replaced by a stream attempt since this connection opened."""

    @classmethod
    def of(cls, channel: aio.Channel) -> Connection:
        """A connection that only ever holds `channel` (one-shot commands: nothing renews it)."""
        fixed = cls(lambda: channel)
        fixed._renewable = False  # its factory gives back the same channel: renewing would close it
        fixed.open()
        return fixed

    def open(self) -> aio.Channel:
        """The current channel, built now if there is none (after `close()` a new one)."""
        if self._channel is None:
            self._channel = self._factory()
        return self._channel

    @property
    def channel(self) -> aio.Channel:
        """The current channel.

        Raises:
            RuntimeError: the connection is closed (the feed stopped).
        """
        if self._channel is None:
            raise RuntimeError("the feed's connection is closed")
        return self._channel

    def stub(self, kind: Callable[[aio.Channel], S]) -> S:
        """A `kind` stub (e.g. `MarketDataServiceStub`) on the current channel, built once per channel."""
        channel = self.channel
        found = self._stubs.get(kind)
        if found is None or found[0] is not channel:
            found = self._stubs[kind] = (channel, kind(channel))
        stub: S = found[1]
        return stub

    async def call(self, send: Callable[[], Awaitable[T]]) -> T:
        """`send()` (which takes the current channel), again if the channel was replaced under it.

        The replaced channel's close cancels the call (grpc.aio raises CancelledError in the
        caller, though the caller's task was not cancelled), or its connect had failed: either way
        the new channel is the one the feed's attempt connects, so the call goes along with it.
        """
        while True:
            channel = self.channel
            try:
                return await send()
            except aio.AioRpcError:
                if self._channel is None or self._channel is channel:
                    raise
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if (
                    (task is not None and task.cancelling())
                    or self._channel is None
                    or self._channel is channel
                ):
                    raise

    async def for_attempt(self, previous: aio.Channel | None, *, suspect: bool = False) -> aio.Channel:
        """The channel for a stream attempt that last ran on `previous` (None: a first attempt).

        It is replaced when `previous` is still the current channel and is not connected: its
        connect failed (TRANSIENT_FAILURE: core would not try again for minutes) or hangs
        (CONNECTING since that attempt: a blackholed SYN or a stalled TLS handshake). A READY
        channel is kept, and so is an IDLE one (its next call connects), unless the last stream
        on it went silent (`suspect`): a connection that carries nothing, not even pings, may be
        half-open (a NAT or a firewall dropped it), and only the keepalive would tell, a minute
        later. A channel another attempt already replaced is used as it is, so streams failing
        together connect once.
        """
        current = self.channel
        if previous is not current:
            return current
        state = current.get_state(try_to_connect=False)
        if state not in _STUCK and not (suspect and state is grpc.ChannelConnectivity.READY):
            return current
        renewed = self._replace(current, state)
        await current.close()
        return renewed

    def renew_failed(self) -> None:
        """The user asked to reconnect (`r`) or searched: a channel whose connect failed is replaced now.

        With no stream to hold (nothing watched, only searches) no attempt would replace it, and
        gRPC core would not retry it for minutes. The old channel closes in the background.
        """
        current = self._channel
        if current is None or not self._renewable:
            return
        state = current.get_state(try_to_connect=False)
        if state is not grpc.ChannelConnectivity.TRANSIENT_FAILURE:
            return
        self._replace(current, state)
        closing = asyncio.create_task(current.close(), name="feed-channel-close")
        self._closing.add(closing)
        closing.add_done_callback(self._closing.discard)

    def _replace(self, current: aio.Channel, state: grpc.ChannelConnectivity) -> aio.Channel:
        renewed = self._channel = self._factory()
        self.renewals += 1
        replaced, self._replaced = self._replaced, asyncio.Event()
        replaced.set()
        log.info("channel_renewed", state=state.name, renewals=self.renewals)
        return renewed

    async def replaced(self, channel: aio.Channel) -> None:
        """Returns once `channel` is no longer the current one (replaced or closed)."""
        while self._channel is channel:
            await self._replaced.wait()

    async def close(self) -> None:
        """Closes the current channel; calls in flight on it end with CANCELLED."""
        channel, self._channel = self._channel, None
        self._stubs.clear()
        replaced, self._replaced = self._replaced, asyncio.Event()
        replaced.set()
        if channel is not None:
            await channel.close()
        await asyncio.gather(*self._closing, return_exceptions=True)
