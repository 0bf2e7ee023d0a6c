"""The single-instrument look-ups of every kind: ShareBy, BondBy, EtfBy, FutureBy and CurrencyBy."""

from __future__ import annotations

from typing import Any

import grpc
import grpc.aio
import pytest

from monitor.pb import common_pb2, instruments_pb2
from monitor.sim import SimServer
from monitor.sim.catalogue import SimInstrument

from .helpers import Client

PREFIX = "/tinkoff.public.invest.api.contract.v1.InstrumentsService/"
# Look-up method, the bulk listing that lists the same records, the kind both serve.
LOOKUPS = (
    ("ShareBy", "Shares", common_pb2.INSTRUMENT_TYPE_SHARE),
    ("BondBy", "Bonds", common_pb2.INSTRUMENT_TYPE_BOND),
    ("EtfBy", "Etfs", common_pb2.INSTRUMENT_TYPE_ETF),
    ("FutureBy", "Futures", common_pb2.INSTRUMENT_TYPE_FUTURES),
    ("CurrencyBy", "Currencies", common_pb2.INSTRUMENT_TYPE_CURRENCY),
)
FIGI, TICKER, UID = (
    instruments_pb2.INSTRUMENT_ID_TYPE_FIGI,
    instruments_pb2.INSTRUMENT_ID_TYPE_TICKER,
    instruments_pb2.INSTRUMENT_ID_TYPE_UID,
)
EVERY = instruments_pb2.InstrumentsRequest(instrument_status=common_pb2.INSTRUMENT_STATUS_ALL)


def by_each_id(item: SimInstrument) -> list[instruments_pb2.InstrumentRequest]:
    """The three ways to name `item`: FIGI, TICKER with its class_code, UID."""
    i = item.instrument
    return [
        instruments_pb2.InstrumentRequest(id_type=FIGI, id=i.figi),
        instruments_pb2.InstrumentRequest(id_type=TICKER, id=i.ticker, class_code=i.class_code),
        instruments_pb2.InstrumentRequest(id_type=UID, id=i.uid),
    ]


async def refused(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


def test_the_lookups_are_methods_of_the_service_with_their_own_responses() -> None:
    service = instruments_pb2.DESCRIPTOR.services_by_name["InstrumentsService"]
    for method, _, _ in LOOKUPS:
        descriptor = service.methods_by_name[method]
        assert f"/{service.full_name}/{descriptor.name}" == PREFIX + method
        assert descriptor.input_type.name == "InstrumentRequest"
        record = method.removesuffix("By")
        assert descriptor.output_type.name == f"{record}Response"
        # {instrument = 1}: the response is field 1 holding the record, per tinvest-contract.md §3.8.
        field = descriptor.output_type.fields_by_name["instrument"]
        assert field.number == 1 and field.message_type is not None and field.message_type.name == record


async def test_each_lookup_finds_its_kind_by_figi_ticker_and_uid_as_listed(
    manual_sim: SimServer, manual_client: Client
) -> None:
    api, meta = manual_client.instruments, manual_client.metadata
    for method, listing, kind_number in LOOKUPS:
        listed = {r.uid: r for r in (await getattr(api, listing)(EVERY, metadata=meta)).instruments}
        of_kind = [i for i in manual_sim.state.catalogue if i.kind == kind_number]
        hidden = [i for i in of_kind if not i.api_tradable]
        # The hand-written one, a generated one and one listed only under ALL (currencies have none).
        for item in {i.uid: i for i in (of_kind[0], of_kind[-1], *hidden[:1])}.values():
            for request in by_each_id(item):
                answer = (await getattr(api, method)(request, metadata=meta)).instrument
                assert answer == listed[item.uid], (method, request.id_type)


async def test_a_lookup_of_another_kind_or_an_unknown_id_is_not_found(
    manual_sim: SimServer, manual_client: Client
) -> None:
    api, meta = manual_client.instruments, manual_client.metadata
    catalogue = manual_sim.state.catalogue
    for method, _, kind_number in LOOKUPS:
        call = getattr(api, method)
        other = next(i for i in catalogue if i.kind != kind_number)
        for request in by_each_id(other):  # it exists, but as another kind: the real API says 50002
            error = await refused(call(request, metadata=meta))
            assert (error.code(), error.details()) == (grpc.StatusCode.NOT_FOUND, "50002"), method
        unknown = instruments_pb2.InstrumentRequest(id_type=UID, id="00000000-0000-4000-8000-000000000000")
        error = await refused(call(unknown, metadata=meta))
        assert (error.code(), error.details()) == (grpc.StatusCode.NOT_FOUND, "50002"), method


async def test_a_lookup_checks_its_request_like_the_others(
    manual_sim: SimServer, manual_client: Client
) -> None:
    api, meta = manual_client.instruments, manual_client.metadata
    bond = next(i for i in manual_sim.state.catalogue if i.kind == common_pb2.INSTRUMENT_TYPE_BOND)
    no_class = instruments_pb2.InstrumentRequest(id_type=TICKER, id=bond.instrument.ticker)
    no_id = instruments_pb2.InstrumentRequest(id_type=UID)
    no_type = instruments_pb2.InstrumentRequest(id=bond.uid)
    for method, _, _ in LOOKUPS:
        call = getattr(api, method)
        for request, code in ((no_class, "30013"), (no_id, "30007"), (no_type, "30005")):
            error = await refused(call(request, metadata=meta))
            assert (error.code(), error.details()) == (grpc.StatusCode.INVALID_ARGUMENT, code), method
