"""The unary services: MarketDataService (candles, prices, statuses) and InstrumentsService."""

from __future__ import annotations

from typing import Any

import grpc.aio

from monitor.market import Interval
from monitor.pb import common_pb2, instruments_pb2, instruments_pb2_grpc, marketdata_pb2, marketdata_pb2_grpc
from monitor.sim import convert
from monitor.sim.catalogue import SimInstrument
from monitor.sim.errors import abort
from monitor.sim.gate import Gate
from monitor.sim.listing import Listings
from monitor.sim.sessions import ORDER_FLAGS
from monitor.sim.state import SimState

Context = grpc.aio.ServicerContext[Any, Any]
_DAY = 86_400

# CandleInterval -> (longest from..to window in seconds, largest `limit`) per tinvest-contract.md §3.7;
# "3 months" and "N years" get a couple of days of slack, as the real API's windows are approximate.
WINDOWS: dict[Interval, tuple[int, int]] = {
    Interval.M1: (_DAY, 2400), Interval.M2: (_DAY, 1200), Interval.M3: (_DAY, 750),
    Interval.M5: (7 * _DAY, 2400), Interval.M10: (7 * _DAY, 1200), Interval.M15: (21 * _DAY, 2400),
    Interval.M30: (21 * _DAY, 1200), Interval.H1: (92 * _DAY, 2400), Interval.H2: (92 * _DAY, 2400),
    Interval.H4: (92 * _DAY, 700), Interval.D1: (2192 * _DAY, 2400), Interval.W1: (1827 * _DAY, 300),
    Interval.MN1: (3653 * _DAY, 120),
}  # fmt: skip


class MarketDataService(marketdata_pb2_grpc.MarketDataServiceServicer):
    """GetCandles, GetLastPrices, GetTradingStatus(es)."""

    def __init__(self, state: SimState, gate: Gate) -> None:
        self.state = state
        self.gate = gate

    async def _instrument(self, context: Context, instrument_id: str) -> SimInstrument:
        if not instrument_id:
            await abort(context, "30237")
        item = self.state.catalogue.resolve(instrument_id)
        if item is None:
            await abort(context, "50002")
        return item

    async def GetCandles(
        self, request: marketdata_pb2.GetCandlesRequest, context: Context
    ) -> marketdata_pb2.GetCandlesResponse:
        """Closed candles, plus the forming one (is_complete=false) when the window reaches now.

        With `from`: periods from the one containing `from` up to `to` (default now), the first
        `limit` of them. Without `from` but with `limit`: the last `limit` periods before `to`.
        A `limit` above the interval's cap is clamped to the cap.
        """
        await self.gate.admit_unary(context)
        item = await self._instrument(context, request.instrument_id or request.figi)
        if not 1 <= request.interval <= 13:
            await abort(context, "30011")
        interval = Interval(request.interval)
        window, cap = WINDOWS[interval]
        now = self.state.clock.now()
        has_from, has_limit = request.HasField("from"), request.HasField("limit") and request.limit > 0
        if not has_from and not has_limit:
            await abort(context, "30228")
        to = request.to.seconds if request.HasField("to") else int(now) + 1
        limit = min(cap, request.limit) if has_limit else cap
        if has_from:
            start = getattr(request, "from").seconds
            if to < start:
                await abort(context, "30012")
            if to - start > window:
                await abort(context, "30014")
        else:
            start = interval.start_of(to)
            for _ in range(limit):
                start = interval.start_of(start - 1)
        if interval is Interval.D1:  # the time of day in from/to is ignored for days
            to = Interval.D1.next_start(Interval.D1.start_of(to - 1)) if to % _DAY else to
        market = self.state.market
        candles = []
        for at in market.periods(interval, start, to):
            if at > now:
                break
            found = market.candle(item.uid, interval, at, now)
            if found is not None:
                candles.append(convert.historic_candle(item, at, found[0], found[1]))
        candles = candles[:limit] if has_from else candles[-limit:]
        return marketdata_pb2.GetCandlesResponse(candles=candles)

    async def GetLastPrices(
        self, request: marketdata_pb2.GetLastPricesRequest, context: Context
    ) -> marketdata_pb2.GetLastPricesResponse:
        await self.gate.admit_unary(context)
        ids = list(request.instrument_id) + list(request.figi)
        items = [await self._instrument(context, i) for i in ids] if ids else list(self.state.catalogue.items)
        now = self.state.clock.now()
        prices = []
        for item in items:
            found = self.state.market.last_price(item.uid, now)
            if found is not None:
                prices.append(convert.last_price(item, found[0], found[1]))
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

    async def GetTradingStatus(
        self, request: marketdata_pb2.GetTradingStatusRequest, context: Context
    ) -> marketdata_pb2.GetTradingStatusResponse:
        await self.gate.admit_unary(context)
        return self._status(await self._instrument(context, request.instrument_id or request.figi))

    async def GetTradingStatuses(
        self, request: marketdata_pb2.GetTradingStatusesRequest, context: Context
    ) -> marketdata_pb2.GetTradingStatusesResponse:
        await self.gate.admit_unary(context)
        items = [await self._instrument(context, i) for i in request.instrument_id]
        return marketdata_pb2.GetTradingStatusesResponse(trading_statuses=[self._status(i) for i in items])


class InstrumentsService(Listings, instruments_pb2_grpc.InstrumentsServiceServicer):
    """ShareBy, GetInstrumentBy, FindInstrument over the catalogue; the bulk listings are Listings'."""

    def __init__(self, state: SimState, gate: Gate) -> None:
        self.state = state
        self.gate = gate

    def _status(self) -> int:
        return self.state.market.sessions.status(self.state.clock.now())

    async def _lookup(self, request: instruments_pb2.InstrumentRequest, context: Context) -> SimInstrument:
        await self.gate.admit_unary(context)
        self.state.stats.lookups[request.id] += 1
        catalogue = self.state.catalogue
        if not request.id:
            await abort(context, "30007")
        item: SimInstrument | None = None
        if request.id_type == instruments_pb2.INSTRUMENT_ID_TYPE_FIGI:
            item = catalogue.by_figi(request.id)
        elif request.id_type == instruments_pb2.INSTRUMENT_ID_TYPE_UID:
            item = catalogue.by_uid(request.id)
        elif request.id_type == instruments_pb2.INSTRUMENT_ID_TYPE_TICKER:
            if not request.class_code:
                await abort(context, "30013")
            item = catalogue.by_ticker(request.id, request.class_code)
        elif request.id_type != instruments_pb2.INSTRUMENT_ID_TYPE_POSITION_UID:
            await abort(context, "30005")
        if item is None:
            await abort(context, "50002")
        return item

    async def ShareBy(
        self, request: instruments_pb2.InstrumentRequest, context: Context
    ) -> instruments_pb2.ShareResponse:
        item = await self._lookup(request, context)
        if item.kind != common_pb2.INSTRUMENT_TYPE_SHARE:
            await abort(context, "50002")
        return instruments_pb2.ShareResponse(instrument=convert.share(item, self._status()))

    async def GetInstrumentBy(
        self, request: instruments_pb2.InstrumentRequest, context: Context
    ) -> instruments_pb2.InstrumentResponse:
        item = await self._lookup(request, context)
        return instruments_pb2.InstrumentResponse(instrument=convert.instrument(item, self._status()))

    async def FindInstrument(
        self, request: instruments_pb2.FindInstrumentRequest, context: Context
    ) -> instruments_pb2.FindInstrumentResponse:
        await self.gate.admit_unary(context)
        if not request.query:
            await abort(context, "30087")
        kind = request.instrument_kind if request.HasField("instrument_kind") else None
        found = self.state.catalogue.find(request.query, kind, tradable_only=request.api_trade_available_flag)
        return instruments_pb2.FindInstrumentResponse(
            instruments=[convert.instrument_short(i) for i in found]
        )
