"""Bulk listings (Shares, Etfs, Bonds, Futures, Currencies): many watch ids resolved in a few calls."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from monitor.feed.convert import record_instrument
from monitor.market import Instrument
from monitor.pb import instruments_pb2
from monitor.watchlist import IdKind, classify_id

BULK_MIN_IDS = 5
"""Unresolved ids above which a listing is worth its call: one Shares call answers for every share,
where one look-up per id costs a request each (InstrumentsService allows 200 a minute)."""
LISTING_TIMEOUT_S = 30.0
"""A listing carries thousands of records (the real Bonds one, megabytes): more than a look-up's 10 s."""

Record = (
    instruments_pb2.Share
    | instruments_pb2.Etf
    | instruments_pb2.Bond
    | instruments_pb2.Future
    | instruments_pb2.Currency
)


class _Listed(Protocol):
    @property
    def instruments(self) -> Sequence[Record]: ...


Metadata = Sequence[tuple[str, str]]
if TYPE_CHECKING:  # the async stub's type exists only in the generated .pyi
    from monitor.pb.instruments_pb2_grpc import InstrumentsServiceAsyncStub

    Send = Callable[
        [InstrumentsServiceAsyncStub, instruments_pb2.InstrumentsRequest, Metadata], Awaitable[_Listed]
    ]


@dataclass(frozen=True, slots=True)
class Listing:
    """One bulk listing call, the instrument kind it lists, and the boards whose ids it likely holds."""

    kind: str
    """Instrument.kind of what it lists."""
    send: Send
    boards: frozenset[str]
    """Class codes of this kind on MOEX: a TICKER_CLASSCODE id on one is looked for here first."""


def _send(name: str) -> Send:
    def send(
        stub: InstrumentsServiceAsyncStub, request: instruments_pb2.InstrumentsRequest, metadata: Metadata
    ) -> Awaitable[_Listed]:
        call: Callable[..., Awaitable[_Listed]] = getattr(stub, name)
        # wait_for_ready, as a look-up: on a failed channel it waits for the next stream attempt's.
        return call(request, metadata=metadata, timeout=LISTING_TIMEOUT_S, wait_for_ready=True)

    return send


LISTINGS: tuple[Listing, ...] = (
    Listing("share", _send("Shares"), frozenset({"TQBR", "TQPI", "TQIF", "SMAL", "SPBXM"})),
    Listing("etf", _send("Etfs"), frozenset({"TQTF", "TQTD", "TQTE"})),
    Listing("bond", _send("Bonds"), frozenset({"TQOB", "TQCB", "TQIR", "TQOD", "TQOE", "TQRD"})),
    Listing("futures", _send("Futures"), frozenset({"SPBFUT"})),
    Listing("currency", _send("Currencies"), frozenset({"CETS"})),
)


def listed_instrument(record: Record, kind: str) -> Instrument:
    """A listing's record as a market Instrument (the fields every record kind shares)."""
    return record_instrument(record, kind)


def match_key(watch_id: str) -> str | None:
    """What a watch id is matched by in a listing: its uid, FIGI or upper-case TICKER_CLASSCODE."""
    try:
        kind, value, class_code = classify_id(watch_id.strip())
    except ValueError:
        return None  # malformed: the per-id look-up says why
    return f"{value}_{class_code}".upper() if kind is IdKind.TICKER else value


def index(instruments: Sequence[Instrument]) -> dict[str, Instrument]:
    """Every listed instrument by uid, FIGI and upper-case TICKER_CLASSCODE."""
    found: dict[str, Instrument] = {}
    for item in instruments:
        found[item.uid] = found[item.figi] = found[f"{item.ticker}_{item.class_code}".upper()] = item
    return found


def listing_order(watch_ids: Sequence[str], done: set[str]) -> list[Listing]:
    """The listings worth calling for `watch_ids`, most promising first, none in `done`.

    A TICKER_CLASSCODE id names its board, hence its listing; a uid or FIGI could be in any, so
    while such ids are left every listing may hold them, and the ones holding the most go first.
    """
    hinted = dict.fromkeys((listing.kind for listing in LISTINGS), 0)
    anywhere = 0
    for watch_id in watch_ids:
        key = match_key(watch_id)
        if key is None:
            continue
        board = key.rpartition("_")[2] if "_" in key else ""
        kind = next((listing.kind for listing in LISTINGS if board in listing.boards), None)
        if kind is None:
            anywhere += 1
        else:
            hinted[kind] += 1
    candidates = [listing for listing in LISTINGS if listing.kind not in done]
    worth = [listing for listing in candidates if hinted[listing.kind] + anywhere > 1]
    return sorted(worth, key=lambda listing: -hinted[listing.kind])
