"""InstrumentsService bulk listings: Shares, Bonds, Etfs, Futures and Currencies with the status filter."""

from __future__ import annotations

from typing import Any

import grpc.aio
from google.protobuf.timestamp_pb2 import Timestamp

from monitor.pb import common_pb2, instruments_pb2
from monitor.sim import convert
from monitor.sim.catalogue import SimInstrument
from monitor.sim.convert import record_fields
from monitor.sim.errors import ApiError
from monitor.sim.gate import INSTRUMENTS, Gate, unary
from monitor.sim.state import SimState
from monitor.wire import seconds_to_timestamp

Context = grpc.aio.ServicerContext[Any, Any]
_BASE, _ALL = common_pb2.INSTRUMENT_STATUS_BASE, common_pb2.INSTRUMENT_STATUS_ALL


def _ts(seconds: int | None) -> Timestamp | None:
    return None if seconds is None else seconds_to_timestamp(seconds)


def _money(item: SimInstrument) -> common_pb2.MoneyValue | None:
    nominal = item.terms.nominal
    if nominal is None:
        return None
    units, nano = int(nominal), int((nominal - int(nominal)) * 1_000_000_000)
    currency = (
        item.terms.basic_asset
        if item.kind == common_pb2.INSTRUMENT_TYPE_CURRENCY
        else item.instrument.currency
    )
    return common_pb2.MoneyValue(currency=currency, units=units, nano=nano)


def bond(item: SimInstrument, status: int) -> instruments_pb2.Bond:
    t = item.terms
    return instruments_pb2.Bond(
        **record_fields(item, status),
        isin=item.isin,
        exchange="MOEX",
        position_uid=item.position_uid,
        coupon_quantity_per_year=t.coupons_per_year,
        maturity_date=_ts(t.maturity),
        nominal=_money(item),
    )


def etf(item: SimInstrument, status: int) -> instruments_pb2.Etf:
    return instruments_pb2.Etf(
        **record_fields(item, status),
        isin=item.isin,
        exchange="MOEX",
        position_uid=item.position_uid,
        focus_type=item.terms.focus_type,
        released_date=seconds_to_timestamp(item.first_1day),
    )


def future(item: SimInstrument, status: int) -> instruments_pb2.Future:
    t = item.terms
    return instruments_pb2.Future(
        **record_fields(item, status),
        exchange="FORTS",
        position_uid=item.position_uid,
        first_trade_date=_ts(t.first_trade),
        last_trade_date=_ts(t.maturity),
        futures_type="DELIVERY_TYPE_CASH_SETTLEMENT",
        basic_asset=t.basic_asset,
        expiration_date=_ts(t.maturity),
    )


def currency(item: SimInstrument, status: int) -> instruments_pb2.Currency:
    return instruments_pb2.Currency(
        **record_fields(item, status),
        isin=item.isin,
        exchange="MOEX",
        position_uid=item.position_uid,
        nominal=_money(item),
        iso_currency_name=item.terms.basic_asset,
    )


class Listings:
    """The bulk listing calls of InstrumentsService, mixed into its servicer (which sets both fields)."""

    state: SimState
    gate: Gate

    async def _listing(
        self, request: instruments_pb2.InstrumentsRequest, context: Context, kind: int
    ) -> tuple[list[SimInstrument], int]:
        """(instruments of `kind` the request's status filter keeps, the trading status now).

        UNSPECIFIED means BASE, the API-tradable ones; ALL adds the rest; other numbers are 30050.
        The simulator has no dealer venue, so INSTRUMENT_EXCHANGE_DEALER lists nothing.
        """
        status = request.instrument_status if request.HasField("instrument_status") else _BASE
        if status not in (common_pb2.INSTRUMENT_STATUS_UNSPECIFIED, _BASE, _ALL):
            raise ApiError("30050")
        if request.instrument_exchange == instruments_pb2.INSTRUMENT_EXCHANGE_DEALER:
            return [], 0
        items = self.state.catalogue.of_kind(kind, tradable_only=status != _ALL)
        return items, self.state.market.sessions.status(self.state.clock.now())

    @unary(INSTRUMENTS)
    async def Shares(
        self, request: instruments_pb2.InstrumentsRequest, context: Context
    ) -> instruments_pb2.SharesResponse:
        items, status = await self._listing(request, context, common_pb2.INSTRUMENT_TYPE_SHARE)
        return instruments_pb2.SharesResponse(instruments=[convert.share(i, status) for i in items])

    @unary(INSTRUMENTS)
    async def Bonds(
        self, request: instruments_pb2.InstrumentsRequest, context: Context
    ) -> instruments_pb2.BondsResponse:
        items, status = await self._listing(request, context, common_pb2.INSTRUMENT_TYPE_BOND)
        return instruments_pb2.BondsResponse(instruments=[bond(i, status) for i in items])

    @unary(INSTRUMENTS)
    async def Etfs(
        self, request: instruments_pb2.InstrumentsRequest, context: Context
    ) -> instruments_pb2.EtfsResponse:
        items, status = await self._listing(request, context, common_pb2.INSTRUMENT_TYPE_ETF)
        return instruments_pb2.EtfsResponse(instruments=[etf(i, status) for i in items])

    @unary(INSTRUMENTS)
    async def Futures(
        self, request: instruments_pb2.InstrumentsRequest, context: Context
    ) -> instruments_pb2.FuturesResponse:
        items, status = await self._listing(request, context, common_pb2.INSTRUMENT_TYPE_FUTURES)
        return instruments_pb2.FuturesResponse(instruments=[future(i, status) for i in items])

    @unary(INSTRUMENTS)
    async def Currencies(
        self, request: instruments_pb2.InstrumentsRequest, context: Context
    ) -> instruments_pb2.CurrenciesResponse:
        items, status = await self._listing(request, context, common_pb2.INSTRUMENT_TYPE_CURRENCY)
        return instruments_pb2.CurrenciesResponse(instruments=[currency(i, status) for i in items])
