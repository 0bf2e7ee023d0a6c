"""The unary services: MarketDataService (candles, prices, statuses) and InstrumentsService."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc.aio

from monitor.market import HistoryInterval, Interval, SecondsInterval
from monitor.pb import common_pb2, instruments_pb2, instruments_pb2_grpc, marketdata_pb2, marketdata_pb2_grpc
from monitor.sim import convert, listing
from monitor.sim.catalogue import SimInstrument
from monitor.sim.errors import ApiError
from monitor.sim.gate import INSTRUMENTS, MARKET_DATA, Gate, unary
from monitor.sim.listing import Listings
from monitor.sim.sessions import ORDER_FLAGS
from monitor.sim.state import SimState

Context = grpc.aio.ServicerContext[Any, Any]
_DAY = 86_400
_PRICES_PER_YIELD = 64

# CandleInterval -> (longest from..to window in seconds, largest `limit`) per tinvest-contract.md §3.7;
# "3 months" and "N years" get a couple of days of slack, as the real API's windows are approximate.
WINDOWS: dict[HistoryInterval, tuple[int, int]] = {
    Interval.M1: (_DAY, 2400), Interval.M2: (_DAY, 1200), Interval.M3: (_DAY, 750),
    Interval.M5: (7 * _DAY, 2400), Interval.M10: (7 * _DAY, 1200), Interval.M15: (21 * _DAY, 2400),
    Interval.M30: (21 * _DAY, 1200), Interval.H1: (92 * _DAY, 2400), Interval.H2: (92 * _DAY, 2400),
    Interval.H4: (92 * _DAY, 700), Interval.D1: (2192 * _DAY, 2400), Interval.W1: (1827 * _DAY, 300),
    Interval.MN1: (3653 * _DAY, 120), SecondsInterval.S5: (200 * 60, 2500),
    SecondsInterval.S10: (200 * 60, 1250), SecondsInterval.S30: (20 * 3600, 2500),
}  # fmt: skip
_INTERVALS: dict[int, HistoryInterval] = {i.value: i for i in WINDOWS}


def _shortest(interval: HistoryInterval) -> int:
    """The shortest period of `interval`: a window shorter than this holds no whole candle."""
    return 28 * _DAY if interval is Interval.MN1 else interval.seconds


class MarketDataService(marketdata_pb2_grpc.MarketDataServiceServicer):
    """GetCandles, GetLastPrices, GetTradingStatus(es)."""

    def __init__(self, state: SimState, gate: Gate) -> None:
        self.state = state
        self.gate = gate

    def _instrument(self, instrument_id: str) -> SimInstrument:
        if not instrument_id:
            raise ApiError("30237")
        item = self.state.catalogue.resolve(instrument_id)
        if item is None:
            raise ApiError("50002")
        return item

    @unary(MARKET_DATA)
    async def GetCandles(
        self, request: marketdata_pb2.GetCandlesRequest, context: Context
    ) -> marketdata_pb2.GetCandlesResponse:
        """Candles whose period starts in [from, to) (the official FAQ), the forming one flagged
        is_complete=false; the first `limit` of them. A window shorter than one period is empty.
        Day candles ignore the time of day: from's day through to's day, empty when both are one day.
        Without `from` but with `limit`: the last `limit` periods before `to` (default now).
        A `limit` above the interval's cap is clamped to the cap.
        """
        item = self._instrument(request.instrument_id or request.figi)
        interval = _INTERVALS.get(request.interval)
        if interval is None:
            raise ApiError("30011")
        window, cap = WINDOWS[interval]
        now = self.state.clock.now()
        has_from, has_limit = request.HasField("from"), request.HasField("limit") and request.limit > 0
        if not has_from and not has_limit:
            raise ApiError("30228")
        to = request.to.seconds if request.HasField("to") else int(now) + 1
        limit = min(cap, request.limit) if has_limit else cap
        if has_from:
            start = getattr(request, "from").seconds
            if to < start:
                raise ApiError("30012")
            if to - start > window:
                raise ApiError("30014")
            if interval is not Interval.D1 and to - start < _shortest(interval):
                to = start
        else:
            start = interval.start_of(to)
            for _ in range(limit):
                start = interval.start_of(start - 1)
        if interval is Interval.D1:
            start, last = Interval.D1.start_of(start), Interval.D1.start_of(to)
            to = last if has_from and last == start else Interval.D1.next_start(last)
        market = self.state.market
        candles = []
        # Nothing before the instrument's history starts (its first_1min/first_1day_candle_date).
        first = item.first_1day if interval.seconds >= _DAY else item.first_1min
        for at in interval.periods(max(start, interval.start_of(first)), to):
            if at > now:
                break
            found = market.candle(item.uid, interval, at, now)
            if found is not None:
                candles.append(convert.historic_candle(item, at, found[0], found[1]))
        candles = candles[:limit] if has_from else candles[-limit:]
        return marketdata_pb2.GetCandlesResponse(candles=candles)

    @unary(MARKET_DATA)
    async def GetLastPrices(
        self, request: marketdata_pb2.GetLastPricesRequest, context: Context
    ) -> marketdata_pb2.GetLastPricesResponse:
        """The named instruments' last prices; without ids every tradable instrument's (instrument_status
        BASE, the default) or every listed one's (ALL), all at one instant."""
        ids = list(request.instrument_id) + list(request.figi)
        if ids:
            items = [self._instrument(i) for i in ids]
        else:
            everything = request.instrument_status == common_pb2.INSTRUMENT_STATUS_ALL
            items = [i for i in self.state.catalogue.items if everything or i.api_tradable]
        now = self.state.clock.now()
        prices = []
        for n, item in enumerate(items, start=1):
            found = self.state.market.last_price(item.uid, now)
            if found is not None:
                prices.append(convert.last_price(item, found[0], found[1]))
            if n % _PRICES_PER_YIELD == 0:
                await asyncio.sleep(0)  # a cold catalogue-wide call: let the streams tick meanwhile
        return marketdata_pb2.GetLastPricesResponse(last_prices=prices)

    def _status(self, item: SimInstrument) -> marketdata_pb2.GetTradingStatusResponse:
        status = self.state.market.sessions.status(self.state.clock.now())
        limit, market = ORDER_FLAGS.get(status, (False, False))
        i = item.instrument
        return marketdata_pb2.GetTradingStatusResponse(
            figi=i.figi, trading_status=status, limit_order_available_flag=limit,  # type: ignore[arg-type]
            market_order_available_flag=market, api_trade_available_flag=True, instrument_uid=i.uid,
            bestprice_order_available_flag=limit, ticker=i.ticker, class_code=i.class_code,
        )  # fmt: skip

    @unary(MARKET_DATA)
    async def GetTradingStatus(
        self, request: marketdata_pb2.GetTradingStatusRequest, context: Context
    ) -> marketdata_pb2.GetTradingStatusResponse:
        return self._status(self._instrument(request.instrument_id or request.figi))

    @unary(MARKET_DATA)
    async def GetTradingStatuses(
        self, request: marketdata_pb2.GetTradingStatusesRequest, context: Context
    ) -> marketdata_pb2.GetTradingStatusesResponse:
        items = [self._instrument(i) for i in request.instrument_id]
        return marketdata_pb2.GetTradingStatusesResponse(trading_statuses=[self._status(i) for i in items])


class InstrumentsService(Listings, instruments_pb2_grpc.InstrumentsServiceServicer):
    """ShareBy, BondBy, EtfBy, FutureBy, CurrencyBy, GetInstrumentBy, FindInstrument over the catalogue;
    the bulk listings are Listings'."""

    def __init__(self, state: SimState, gate: Gate) -> None:
        self.state = state
        self.gate = gate

    def _status(self) -> int:
        return self.state.market.sessions.status(self.state.clock.now())

    def _lookup(self, request: instruments_pb2.InstrumentRequest) -> SimInstrument:
        self.state.stats.lookups[request.id] += 1
        catalogue = self.state.catalogue
        if not request.id:
            raise ApiError("30007")
        item: SimInstrument | None = None
        if request.id_type == instruments_pb2.INSTRUMENT_ID_TYPE_FIGI:
            item = catalogue.by_figi(request.id)
        elif request.id_type == instruments_pb2.INSTRUMENT_ID_TYPE_UID:
            item = catalogue.by_uid(request.id)
        elif request.id_type == instruments_pb2.INSTRUMENT_ID_TYPE_TICKER:
            if not request.class_code:
                raise ApiError("30013")
            item = catalogue.by_ticker(request.id, request.class_code)
        elif request.id_type != instruments_pb2.INSTRUMENT_ID_TYPE_POSITION_UID:
            raise ApiError("30005")
        if item is None:
            raise ApiError("50002")
        return item

    def _lookup_kind(self, request: instruments_pb2.InstrumentRequest, kind: int) -> SimInstrument:
        """A *By look-up: an instrument of another kind is not found (50002), as the real API answers."""
        item = self._lookup(request)
        if item.kind != kind:
            raise ApiError("50002")
        return item

    @unary(INSTRUMENTS)
    async def ShareBy(
        self, request: instruments_pb2.InstrumentRequest, context: Context
    ) -> instruments_pb2.ShareResponse:
        item = self._lookup_kind(request, common_pb2.INSTRUMENT_TYPE_SHARE)
        return instruments_pb2.ShareResponse(instrument=convert.share(item, self._status()))

    @unary(INSTRUMENTS)
    async def BondBy(
        self, request: instruments_pb2.InstrumentRequest, context: Context
    ) -> instruments_pb2.BondResponse:
        item = self._lookup_kind(request, common_pb2.INSTRUMENT_TYPE_BOND)
        return instruments_pb2.BondResponse(instrument=listing.bond(item, self._status()))

    @unary(INSTRUMENTS)
    async def EtfBy(
        self, request: instruments_pb2.InstrumentRequest, context: Context
    ) -> instruments_pb2.EtfResponse:
        item = self._lookup_kind(request, common_pb2.INSTRUMENT_TYPE_ETF)
        return instruments_pb2.EtfResponse(instrument=listing.etf(item, self._status()))

    @unary(INSTRUMENTS)
    async def FutureBy(
        self, request: instruments_pb2.InstrumentRequest, context: Context
    ) -> instruments_pb2.FutureResponse:
        item = self._lookup_kind(request, common_pb2.INSTRUMENT_TYPE_FUTURES)
        return instruments_pb2.FutureResponse(instrument=listing.future(item, self._status()))

    @unary(INSTRUMENTS)
    async def CurrencyBy(
        self, request: instruments_pb2.InstrumentRequest, context: Context
    ) -> instruments_pb2.CurrencyResponse:
        item = self._lookup_kind(request, common_pb2.INSTRUMENT_TYPE_CURRENCY)
        return instruments_pb2.CurrencyResponse(instrument=listing.currency(item, self._status()))

    @unary(INSTRUMENTS)
    async def GetInstrumentBy(
        self, request: instruments_pb2.InstrumentRequest, context: Context
    ) -> instruments_pb2.InstrumentResponse:
        item = self._lookup(request)
        return instruments_pb2.InstrumentResponse(instrument=convert.instrument(item, self._status()))

    @unary(INSTRUMENTS)
    async def FindInstrument(
        self, request: instruments_pb2.FindInstrumentRequest, context: Context
    ) -> instruments_pb2.FindInstrumentResponse:
        if not request.query:
            raise ApiError("30087")
        kind = request.instrument_kind if request.HasField("instrument_kind") else None
        found = self.state.catalogue.find(request.query, kind, tradable_only=request.api_trade_available_flag)
        return instruments_pb2.FindInstrumentResponse(
            instruments=[convert.instrument_short(i) for i in found]
        )
