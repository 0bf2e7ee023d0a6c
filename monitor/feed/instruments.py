"""Watch-id resolution (FIGI, uid, TICKER_CLASSCODE) and search over InstrumentsService."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import grpc
import structlog

from monitor.feed.auth import TokenGate, TokenRejected, rejection
from monitor.feed.cache import CandleCache
from monitor.feed.connection import Connection
from monitor.feed.connectivity import link_problem
from monitor.feed.convert import instrument, short_instrument
from monitor.feed.history import reset_seconds
from monitor.feed.listing import BULK_MIN_IDS, Listing, index, listed_instrument, listing_order, match_key
from monitor.market import Instrument
from monitor.pb import common_pb2, instruments_pb2, instruments_pb2_grpc
from monitor.watchlist import IdKind, classify_id

_ID_TYPES = {
    IdKind.UID: instruments_pb2.INSTRUMENT_ID_TYPE_UID,
    IdKind.FIGI: instruments_pb2.INSTRUMENT_ID_TYPE_FIGI,
    IdKind.TICKER: instruments_pb2.INSTRUMENT_ID_TYPE_TICKER,
}
UNARY_TIMEOUT_S = 10.0
_FOR_NOW = (
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED,
    grpc.StatusCode.INTERNAL,
    grpc.StatusCode.CANCELLED,
)
"""Listing failures worth retrying; any other (a server without the call) turns the listings off."""

log = structlog.get_logger()


class InstrumentError(Exception):
    """A watch id that can never resolve (not found, malformed); retrying will not help."""

    def __init__(self, watch_id: str, reason: str) -> None:
        super().__init__(f"{watch_id}: {reason}")
        self.watch_id = watch_id
        self.reason = reason


class SearchFailed(Exception):
    """A search the server did not answer; the message says why in the user's words."""


def search_failure(exc: grpc.aio.AioRpcError) -> SearchFailed:
    """The SearchFailed for a failed FindInstrument: a refused or unreachable server named as such."""
    details = (exc.details() or "").strip()
    if exc.code() is grpc.StatusCode.UNAVAILABLE:
        why = link_problem(exc.code(), details, UNARY_TIMEOUT_S) or details.split(";")[0] or "no answer"
        return SearchFailed(f"the server is unavailable ({why})")
    return SearchFailed(f"{exc.code().name}: {details}" if details else exc.code().name)


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
    With `cache`, an instrument saved less than `max_age_s` ago is used without a call, and every
    answer from the API is saved there.
    """

    def __init__(
        self,
        channel: grpc.aio.Channel | Connection,
        metadata: Sequence[tuple[str, str]],
        auth: TokenGate | None = None,
        *,
        cache: CandleCache | None = None,
        max_age_s: float = 86_400.0,
    ) -> None:
        self._connection = channel if isinstance(channel, Connection) else Connection.of(channel)
        self._metadata = metadata
        """Held, not copied: the feed updates it in place when the token changes."""
        self._auth = auth
        self._store = cache
        self._max_age_s = max_age_s
        self._answers: dict[str, Instrument] = {}
        """This session's answers, per watch id."""
        self._unlisted: set[str] = set()
        """Ids the listings were asked for and did not hold: looked up one by one from now on."""
        self._listings_off = False

    def _stub(self) -> instruments_pb2_grpc.InstrumentsServiceAsyncStub:
        return self._connection.stub(_instruments_stub)

    async def resolve(self, watch_id: str) -> Instrument:
        """The instrument for `watch_id` (cached after the first answer).

        Raises:
            InstrumentError: permanent failure ("instrument not found", malformed id).
            grpc.aio.AioRpcError: transient failures (the caller retries later).
        """
        found = self._answers.get(watch_id) or self._stored(watch_id)
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
        self._remember(watch_id, result)
        return result

    def _stored(self, watch_id: str) -> Instrument | None:
        """The cache's instrument for `watch_id` if fresh (then kept as this session's answer)."""
        if self._store is None:
            return None
        try:
            found = self._store.instrument(watch_id, self._max_age_s)
        except Exception as exc:  # a cache that fails to read holds nothing: the API is asked
            log.warning("cache_read_failed", watch_id=watch_id, error=str(exc))
            return None
        if found is not None:
            self._answers[watch_id] = found
        return found

    def _remember(self, watch_id: str, found: Instrument) -> None:
        """An answer from the API: kept for the session and saved (a cached one is not saved again,
        or its age would never grow to the refresh)."""
        self._answers[watch_id] = found
        if self._store is not None:
            try:
                self._store.save_instrument(watch_id, found)
            except Exception as exc:  # only the next start will ask again
                log.warning("cache_write_failed", watch_id=watch_id, error=str(exc))

    async def prefetch(self, watch_ids: Sequence[str]) -> None:
        """Answers what it can for many ids at once: from the cache, then (for more than
        BULK_MIN_IDS left) from the bulk listings, each of which resolves every id of its kind in
        one call. What is left is for `resolve`, one id at a time.

        Raises:
            grpc.aio.AioRpcError: a listing failed for now (80002 among them): as a look-up's error.
        """
        pending = [w for w in dict.fromkeys(watch_ids) if w not in self._answers and self._stored(w) is None]
        pending = [w for w in pending if w not in self._unlisted]
        asked: set[str] = set()
        while len(pending) > BULK_MIN_IDS and not self._listings_off:
            order = listing_order(pending, asked)
            if not order:
                break
            asked.add(order[0].kind)
            try:
                listed = index(await self._listing(order[0]))
            except grpc.aio.AioRpcError as exc:
                if exc.code() in _FOR_NOW:
                    raise
                log.warning("listings_unavailable", code=exc.code().name, details=exc.details())
                self._listings_off = True
                break
            for watch_id in pending:
                key = match_key(watch_id)
                found = listed.get(key) if key is not None else None
                if found is not None:
                    self._remember(watch_id, found)
            pending = [w for w in pending if w not in self._answers]
        if asked:
            self._unlisted.update(pending)
            log.info("resolved_by_listings", listings=sorted(asked), left=len(pending))

    async def _listing(self, listing: Listing) -> list[Instrument]:
        """Every API-tradable instrument of the listing's kind (INSTRUMENT_STATUS_BASE: the
        smaller list; an id it lacks is looked up by itself)."""
        request = instruments_pb2.InstrumentsRequest(instrument_status=common_pb2.INSTRUMENT_STATUS_BASE)

        def send() -> Awaitable[Sequence[Instrument]]:
            return self._connection.call(lambda: self._list(listing, request))

        found = await (send() if self._auth is None else self._auth.call(send))
        return list(found)

    async def _list(self, listing: Listing, request: instruments_pb2.InstrumentsRequest) -> list[Instrument]:
        response = await listing.send(self._stub(), request, self._metadata)
        return [listed_instrument(record, listing.kind) for record in response.instruments if record.uid]

    async def search(self, query: str) -> list[Instrument]:
        """Instruments matching `query` (FindInstrument, api-tradable only).

        A search is the user's own attempt: a channel whose connect failed is replaced first (one
        new connect), as `r` would, or the server's return would go unseen until a stream attempt
        or gRPC core's 240 s timer, and with nothing watched there is no stream attempt.

        Raises:
            TokenRejected: the token is (or just got) rejected. A search does not wait for the
                reconnect (the user is typing): it says why it cannot find anything.
            SearchFailed: the call failed (the server unavailable, a deadline): the reason.
        """
        auth = self._auth
        if auth is not None and auth.rejected:
            raise TokenRejected(auth.reason)
        self._connection.renew_failed()
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
                raise search_failure(exc) from None
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


class Resolves(Protocol):
    """What a resolve round needs of a resolver (InstrumentResolver)."""

    async def prefetch(self, watch_ids: Sequence[str]) -> None: ...

    async def resolve(self, watch_id: str) -> Instrument: ...


async def resolve_round(
    resolver: Resolves, watch_ids: Sequence[str], resolved: dict[str, Instrument]
) -> ResolveRound:
    """Resolves each id not yet in `resolved` (filling it in place): the resolver's cache and bulk
    listings first (`prefetch`), then one look-up per id left.

    A rejected token is not a failure here: the resolver's token gate holds the look-up until
    the reconnect, so the round simply takes that long. The request limit ends the round early.
    """
    result = ResolveRound()
    pending = [watch_id for watch_id in dict.fromkeys(watch_ids) if watch_id not in resolved]
    try:
        await resolver.prefetch(pending)
    except grpc.aio.AioRpcError as exc:
        # A listing failed for now: one look-up per id would fare no better (and cost far more).
        result.transient = True
        if exc.code() is grpc.StatusCode.RESOURCE_EXHAUSTED:
            result.wait = reset_seconds(exc)
        return result
    for watch_id in pending:
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
