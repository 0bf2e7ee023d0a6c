"""The simulator's catalogue at scale: generated instruments, bulk listings, look-up, search, stream limit."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any

import grpc
import grpc.aio
import pytest

from monitor.pb import common_pb2, instruments_pb2
from monitor.sim import SimConfig, SimServer
from monitor.sim.catalogue import CATALOGUE, SimInstrument
from monitor.sim.universe import figi_check, generate, isin_check
from monitor.wire import from_quotation

from .helpers import Client, candles_request, kind, read_until

KINDS = {
    "Shares": common_pb2.INSTRUMENT_TYPE_SHARE,
    "Bonds": common_pb2.INSTRUMENT_TYPE_BOND,
    "Etfs": common_pb2.INSTRUMENT_TYPE_ETF,
    "Futures": common_pb2.INSTRUMENT_TYPE_FUTURES,
    "Currencies": common_pb2.INSTRUMENT_TYPE_CURRENCY,
}

SAME_IN_EVERY_RECORD = (
    "figi", "ticker", "class_code", "lot", "currency", "name", "trading_status", "api_trade_available_flag",
    "first_1min_candle_date", "first_1day_candle_date",
)  # fmt: skip


def test_generated_catalogue_is_deterministic_unique_and_well_formed() -> None:
    items = (*CATALOGUE, *generate(1, taken=CATALOGUE))
    assert len(items) >= 1_000 + len(CATALOGUE)
    assert generate(1, taken=CATALOGUE) == items[len(CATALOGUE) :]  # the seed decides everything
    assert [i.uid for i in generate(2, taken=CATALOGUE)] != [i.uid for i in items[len(CATALOGUE) :]]
    kinds = Counter(i.kind for i in items)
    assert all(kinds[k] >= 50 for k in KINDS.values()), kinds
    for ids in (
        [i.uid for i in items],
        [i.instrument.figi for i in items],
        [i.instrument.symbol for i in items],
    ):
        assert len(set(ids)) == len(ids)
    for item in items[len(CATALOGUE) :]:
        i = item.instrument
        assert str(uuid.UUID(i.uid)) == i.uid and len(i.figi) == 12 and i.figi[-1] == figi_check(i.figi[:11])
        if item.isin:
            assert len(item.isin) == 12 and item.isin[-1] == isin_check(item.isin[:11])
        assert item.base_price % i.price_step == 0 and item.base_ticks >= 10 and i.lot >= 1
        assert item.first_1day <= item.first_1min and i.currency in ("rub", "usd", "cny")
    # The real SBER ISIN and FIGI pass the same check digits the generator writes.
    assert isin_check("RU000902954") == "0" and figi_check("BBG004730N8") == "8"


async def test_bulk_listings_filter_by_status_and_agree_with_the_lookup(
    manual_sim: SimServer, manual_client: Client
) -> None:
    api, meta = manual_client.instruments, manual_client.metadata
    total = hidden = 0
    for method, kind_number in KINDS.items():
        call = getattr(api, method)
        base = (await call(instruments_pb2.InstrumentsRequest(), metadata=meta)).instruments
        explicit = instruments_pb2.InstrumentsRequest(instrument_status=common_pb2.INSTRUMENT_STATUS_BASE)
        assert (await call(explicit, metadata=meta)).instruments == base
        everything = instruments_pb2.InstrumentsRequest(instrument_status=common_pb2.INSTRUMENT_STATUS_ALL)
        every = (await call(everything, metadata=meta)).instruments
        tradable = [r.uid for r in every if r.api_trade_available_flag]
        assert [r.uid for r in base] == tradable
        hidden += len(every) - len(base)
        expected = [i for i in manual_sim.state.catalogue if i.kind == kind_number]
        assert [r.uid for r in every] == [i.uid for i in expected]
        total += len(every)
        for record in list(every)[::25]:  # a sample: each lookup is one more unary call
            await _agrees(api, meta, record)
    assert total == len(manual_sim.state.catalogue) and hidden > 0  # ALL lists the untradable too
    bad = instruments_pb2.InstrumentsRequest(instrument_status=7)  # type: ignore[arg-type]
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await api.Bonds(bad, metadata=meta)
    assert error.value.code() is grpc.StatusCode.INVALID_ARGUMENT and error.value.details() == "30050"
    dealer = instruments_pb2.InstrumentsRequest(
        instrument_exchange=instruments_pb2.INSTRUMENT_EXCHANGE_DEALER
    )
    assert not (await api.Shares(dealer, metadata=meta)).instruments


async def _agrees(api: Any, meta: Any, record: Any) -> None:
    """A listed record and GetInstrumentBy (by uid, by FIGI, by ticker) tell the same instrument."""
    by_uid = instruments_pb2.InstrumentRequest(id_type=instruments_pb2.INSTRUMENT_ID_TYPE_UID, id=record.uid)
    one = (await api.GetInstrumentBy(by_uid, metadata=meta)).instrument
    for field in SAME_IN_EVERY_RECORD:
        assert getattr(one, field) == getattr(record, field), field
    assert from_quotation(one.min_price_increment) == from_quotation(record.min_price_increment)
    by_figi = instruments_pb2.InstrumentRequest(
        id_type=instruments_pb2.INSTRUMENT_ID_TYPE_FIGI, id=record.figi
    )
    assert (await api.GetInstrumentBy(by_figi, metadata=meta)).instrument.uid == record.uid
    by_ticker = instruments_pb2.InstrumentRequest(
        id_type=instruments_pb2.INSTRUMENT_ID_TYPE_TICKER, id=record.ticker, class_code=record.class_code
    )
    assert (await api.GetInstrumentBy(by_ticker, metadata=meta)).instrument.uid == record.uid


async def test_search_at_catalogue_size(manual_sim: SimServer, manual_client: Client) -> None:
    api, meta = manual_client.instruments, manual_client.metadata

    async def find(query: str, **fields: Any) -> list[Any]:
        request = instruments_pb2.FindInstrumentRequest(query=query, **fields)
        return list((await api.FindInstrument(request, metadata=meta)).instruments)

    hidden = next(i for i in manual_sim.state.catalogue if not i.api_tradable)
    generated: SimInstrument = manual_sim.state.catalogue.items[len(CATALOGUE) + 3]
    assert [r.uid for r in await find(generated.instrument.figi.lower())] == [generated.uid]
    assert [r.uid for r in await find(generated.position_uid)] == [generated.uid]
    assert [r.uid for r in await find(hidden.uid)] == [hidden.uid]
    assert await find(hidden.uid, api_trade_available_flag=True) == []
    banks = await find("банк")
    assert len(banks) > 10 and all("банк" in r.name.casefold() for r in banks)
    bonds = await find("банк", instrument_kind=common_pb2.INSTRUMENT_TYPE_BOND)
    assert bonds and {r.instrument_type for r in bonds} == {"bond"} and len(bonds) < len(banks)


async def test_sixteen_streams_per_token_the_seventeenth_gets_80001(manual_clock: Any) -> None:
    async with SimServer(SimConfig(tokens=("first", "second")), clock=manual_clock) as sim:
        first, second = Client(sim, token="first"), Client(sim, token="second")
        calls = []
        for _ in range(16):
            call = first.stream()
            await call.write(candles_request("SBER_TQBR"))
            await read_until(call, kind("subscribe_candles_response"))
            calls.append(call)
        refused = first.stream()
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await refused.read()
        assert error.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED and error.value.details() == "80001"
        assert dict(error.value.trailing_metadata() or ()).get("message") == "limit of open streams exceeded"
        other = second.stream()  # the limit is per token
        await other.write(candles_request("GAZP_TQBR"))
        await read_until(other, kind("subscribe_candles_response"))
        calls.pop().cancel()  # closed: its place frees at the counter's next refresh, not at once
        async with asyncio.timeout(10):
            while len(sim.stats.sessions) > 16:
                await asyncio.sleep(0.01)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            await first.stream().read()
        assert error.value.details() == "80001"
        manual_clock.advance(sim.config.stream_counter_refresh_seconds)
        again = first.stream()
        await again.write(candles_request("LKOH_TQBR"))
        await read_until(again, kind("subscribe_candles_response"))
        for call in (*calls, other, again):
            call.cancel()
        await first.close()
        await second.close()
