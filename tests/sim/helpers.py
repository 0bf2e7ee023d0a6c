"""Helpers for simulator tests: a stub client and readers that wait on conditions, not on time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import grpc
import grpc.aio
from google.protobuf import json_format

from monitor.pb import instruments_pb2_grpc, marketdata_pb2, marketdata_pb2_grpc
from monitor.sim import SimServer, Stats

SBER_UID = "e6123145-9665-43e0-8413-cd61b8aa9b13"
SBER_FIGI = "BBG004730N88"
START = 1_764_000_000.0  # 2025-11-24 16:00 UTC, a Monday


class Client:
    """Stubs on one channel with the sim's token."""

    def __init__(self, sim: SimServer, token: str | None = None) -> None:
        self.channel = grpc.aio.insecure_channel(sim.address)
        self.metadata = (("authorization", f"Bearer {sim.token if token is None else token}"),)
        self.md = marketdata_pb2_grpc.MarketDataServiceStub(self.channel)
        self.streams = marketdata_pb2_grpc.MarketDataStreamServiceStub(self.channel)
        self.instruments = instruments_pb2_grpc.InstrumentsServiceStub(self.channel)

    def stream(self) -> Any:
        return self.streams.MarketDataStream(metadata=self.metadata)

    async def close(self) -> None:
        await self.channel.close()


async def read_until(
    call: Any, predicate: Callable[[marketdata_pb2.MarketDataResponse], bool], timeout: float = 10
) -> tuple[marketdata_pb2.MarketDataResponse, list[marketdata_pb2.MarketDataResponse]]:
    """Reads until a message matches; returns it and everything read before it."""
    seen: list[marketdata_pb2.MarketDataResponse] = []
    async with asyncio.timeout(timeout):
        while True:
            message = await call.read()
            assert message is not grpc.aio.EOF, "stream ended"
            if predicate(message):
                return message, seen
            seen.append(message)


def kind(name: str) -> Callable[[marketdata_pb2.MarketDataResponse], bool]:
    return lambda m: m.WhichOneof("payload") == name


def candles_request(*ids: str, interval: int = 1, waiting_close: bool = False, action: int = 1) -> Any:
    return marketdata_pb2.MarketDataRequest(
        subscribe_candles_request=marketdata_pb2.SubscribeCandlesRequest(
            subscription_action=action,  # type: ignore[arg-type]
            waiting_close=waiting_close,
            instruments=[marketdata_pb2.CandleInstrument(instrument_id=i, interval=interval) for i in ids],  # type: ignore[arg-type]
        )
    )


def request(**fields: Any) -> marketdata_pb2.MarketDataRequest:
    """A MarketDataRequest from plain dicts (proto field names, enum numbers)."""
    return json_format.ParseDict(fields, marketdata_pb2.MarketDataRequest())


def server_side_request(**fields: Any) -> marketdata_pb2.MarketDataServerSideStreamRequest:
    return json_format.ParseDict(fields, marketdata_pb2.MarketDataServerSideStreamRequest())


def active_subscriptions(stats: Stats) -> dict[str, int]:
    """Active subscriptions (candles + info + last price) per open stream, by stream_id."""
    return {sid: s.subscription_count for sid, s in stats.sessions.items()}


def candle_subscriptions(stats: Stats) -> dict[str, int]:
    """Active candle subscriptions per open stream, by stream_id (the ones the 300 limit counts)."""
    return {sid: len(s.candles) for sid, s in stats.sessions.items()}
