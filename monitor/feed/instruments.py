"""Watch-id resolution (FIGI, uid, TICKER_CLASSCODE) and search over InstrumentsService."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field

import grpc

from monitor.feed.auth import TokenGate, TokenRejected, rejection
from monitor.feed.connection import Connection
from monitor.feed.convert import instrument, short_instrument
from monitor.feed.history import reset_seconds
from monitor.market import Instrument
from monitor.pb import instruments_pb2, instruments_pb2_grpc
from monitor.watchlist import IdKind, classify_id

_ID_TYPES = {
    IdKind.UID: instruments_pb2.INSTRUMENT_ID_TYPE_UID,
    IdKind.FIGI: instruments_pb2.INSTRUMENT_ID_TYPE_FIGI,
    IdKind.TICKER: instruments_pb2.INSTRUMENT_ID_TYPE_TICKER,
}
UNARY_TIMEOUT_S = 10.0


class InstrumentError(Exception):
    """A watch id that can never resolve (not found, malformed); retrying will not help."""

    def __init__(self, watch_id: str, reason: str) -> None:
        super().__init__(f"{watch_id}: {reason}")
        self.watch_id = watch_id
        self.reason = reason


def instrument_request(watch_id: str) -> instruments_pb2.InstrumentRequest:
    """The GetInstrumentBy request for a watchlist id: uid, FIGI or `TICKER_CLASSCODE`.

    The id shapes are the watchlist's own (`classify_id`), so what a watchlist accepts and what the
    feed looks up can never disagree.

    Raises:
        InstrumentError: the id has none of the three shapes.
    """
    try:
        kind, value, class_code = classify_id(watch_id.strip())
    except ValueError:
        raise InstrumentError(watch_id, "not a FIGI, uid or TICKER_CLASSCODE") from None
    request = instruments_pb2.InstrumentRequest(id_type=_ID_TYPES[kind], id=value)
    if kind is IdKind.TICKER:
        request.class_code = class_code
    return request


def _instruments_stub(channel: grpc.aio.Channel) -> instruments_pb2_grpc.InstrumentsServiceAsyncStub:
    return instruments_pb2_grpc.InstrumentsServiceStub(channel)


class InstrumentResolver:
    """Resolves watch ids to Instruments once per session and answers searches.

    With `auth` (the feed's token state) a look-up waits while the token is rejected, and a
    rejection closes it and waits too; without it (one-shot commands) a rejection is raised.
    `channel` is a grpc.aio channel, or the feed's `Connection` (each call takes its current one).
    """

    def __init__(
        self,
        channel: grpc.aio.Channel | Connection,
        metadata: Sequence[tuple[str, str]],
        auth: TokenGate | None = None,
    ) -> None:
        self._connection = channel if isinstance(channel, Connection) else Connection.of(channel)
        self._metadata = metadata
        """Held, not copied: the feed updates it in place when the token changes."""
        self._auth = auth
        self._cache: dict[str, Instrument] = {}

    def _stub(self) -> instruments_pb2_grpc.InstrumentsServiceAsyncStub:
        return self._connection.stub(_instruments_stub)

    async def resolve(self, watch_id: str) -> Instrument:
        """The instrument for `watch_id` (cached after the first answer).

        Raises:
            InstrumentError: permanent failure ("instrument not found", malformed id).
            grpc.aio.AioRpcError: transient failures (the caller retries later).
        """
        found = self._cache.get(watch_id)
        if found is not None:
            return found
        request = instrument_request(watch_id)

        def send() -> Awaitable[instruments_pb2.InstrumentResponse]:
            # wait_for_ready: on a failed channel a look-up waits and connects nothing itself; the
            # next stream attempt replaces the channel and `call` sends it again on the new one.
            return self._connection.call(
                lambda: self._stub().GetInstrumentBy(
                    request, metadata=self._metadata, timeout=UNARY_TIMEOUT_S, wait_for_ready=True
                )
            )

        try:
            response = await (send() if self._auth is None else self._auth.call(send))
        except grpc.aio.AioRpcError as exc:
            if exc.code() is grpc.StatusCode.NOT_FOUND:
                raise InstrumentError(watch_id, "instrument not found") from None
            if exc.code() is grpc.StatusCode.INVALID_ARGUMENT:
                raise InstrumentError(watch_id, f"invalid id ({exc.details()})") from None
            raise
        if not response.instrument.uid:
            raise InstrumentError(watch_id, "instrument not found")
        result = instrument(response.instrument)
        self._cache[watch_id] = result
        return result

    async def search(self, query: str) -> list[Instrument]:
        """Instruments matching `query` (FindInstrument, api-tradable only).

        Raises:
            TokenRejected: the token is (or just got) rejected. A search does not wait for the
                reconnect (the user is typing): it says why it cannot find anything.
        """
        auth = self._auth
        if auth is not None and auth.rejected:
            raise TokenRejected(auth.reason)
        try:
            response = await self._connection.call(
                lambda: self._stub().FindInstrument(
                    instruments_pb2.FindInstrumentRequest(query=query, api_trade_available_flag=True),
                    metadata=self._metadata,
                    timeout=UNARY_TIMEOUT_S,
                )
            )
        except grpc.aio.AioRpcError as exc:
            if auth is None or (rejected := rejection(exc)) is None:
                raise
            auth.reject(*rejected)
            raise TokenRejected(rejected[0]) from None
        return [short_instrument(item) for item in response.instruments if item.uid]


@dataclass(slots=True)
class ResolveRound:
    """What one pass over the unresolved watch ids found."""

    failed: dict[str, str] = field(default_factory=dict)
    """Ids that can never resolve, with the reason."""
    transient: bool = False
    """Some look-ups failed for now (network, server): try again later."""
    wait: float | None = None
    """Seconds the server asked to wait (80002 RESOURCE_EXHAUSTED, `x-ratelimit-reset`)."""


async def resolve_round(
    resolver: InstrumentResolver, watch_ids: Sequence[str], resolved: dict[str, Instrument]
) -> ResolveRound:
    """Resolves each id not yet in `resolved` (filling it in place).

    A rejected token is not a failure here: the resolver's token gate holds the look-up until
    the reconnect, so the round simply takes that long. The request limit ends the round early.
    """
    result = ResolveRound()
    for watch_id in dict.fromkeys(watch_ids):
        if watch_id in resolved:
            continue
        try:
            resolved[watch_id] = await resolver.resolve(watch_id)
        except InstrumentError as exc:
            result.failed[watch_id] = exc.reason
        except grpc.aio.AioRpcError as exc:
            result.transient = True
            if exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
                # The request limit (InstrumentsService: 200 a minute): every further look-up this
                # round would be refused too. Stop, and wait as long as the server says.
                result.wait = reset_seconds(exc)
                break
    return result
