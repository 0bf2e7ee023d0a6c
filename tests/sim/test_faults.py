"""Faults on demand, TLS, restarts, trading sessions and the CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest
import trustme

from monitor.clock import ScaledClock
from monitor.feed.testing import ManualClock
from monitor.market import Interval
from monitor.pb import marketdata_pb2, marketdata_pb2_grpc
from monitor.sim import SimConfig, SimServer, StreamEnd

from .helpers import SBER_UID, Client, candles_request, kind, read_until, request

ENDINGS = [
    (StreamEnd.UNAVAILABLE, grpc.StatusCode.UNAVAILABLE, None),
    (StreamEnd.INTERNAL, grpc.StatusCode.INTERNAL, "70001"),
    (StreamEnd.CANCELLED, grpc.StatusCode.CANCELLED, None),
    (StreamEnd.STREAM_REMOVED, grpc.StatusCode.UNKNOWN, "Stream removed"),
    (StreamEnd.LIFETIME, grpc.StatusCode.RESOURCE_EXHAUSTED, "80005"),
]


async def _subscribed(client: Client) -> Any:
    call = client.stream()
    await call.write(candles_request(SBER_UID))
    await read_until(call, kind("subscribe_candles_response"))
    return call


@pytest.mark.parametrize(("end", "code", "details"), ENDINGS)
async def test_end_streams(manual_sim: SimServer, manual_client: Client, end: StreamEnd,
                           code: grpc.StatusCode, details: str | None) -> None:  # fmt: skip
    call = await _subscribed(manual_client)
    assert manual_sim.faults.end_streams(end) == 1
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await read_until(call, lambda m: False)
    assert caught.value.code() == code
    if details:
        assert caught.value.details() == details


@pytest.mark.parametrize("half_closed", [False, True])
async def test_clean_end(manual_sim: SimServer, manual_client: Client, half_closed: bool) -> None:
    """CLEAN ends with status OK, whether or not the client has half-closed its side (the feed never
    does). A client write still in flight at that moment is another matter: grpc.aio turns the
    failed send into INTERNAL "Internal error from Core" on the client, whatever the server sent."""
    call = await _subscribed(manual_client)
    if half_closed:
        await call.done_writing()
    manual_sim.faults.end_streams(StreamEnd.CLEAN)
    async with asyncio.timeout(10):
        while (message := await call.read()) is not grpc.aio.EOF:
            assert message is not None
    assert await call.code() == grpc.StatusCode.OK
    assert manual_sim.state.stats.sessions == {}


async def test_clean_end_reads_as_the_feed_does(manual_sim: SimServer, manual_client: Client) -> None:
    """The feed iterates the call (`async for`): CLEAN ends the loop without an error, status OK."""
    call = manual_client.stream()
    await call.write(candles_request(SBER_UID))
    async with asyncio.timeout(10):
        async for message in call:
            if message.WhichOneof("payload") == "subscribe_candles_response":
                manual_sim.faults.end_streams(StreamEnd.CLEAN)
    assert await call.code() == grpc.StatusCode.OK


async def test_stall_is_silent_until_cleared(manual_sim: SimServer, manual_client: Client,
                                             manual_clock: ManualClock) -> None:  # fmt: skip
    call = await _subscribed(manual_client)
    await read_until(call, kind("candle"))
    manual_sim.faults.stall(True)
    manual_clock.advance(300)  # minutes close and pings would be due, yet nothing may arrive
    pending = asyncio.ensure_future(call.read())
    done, _ = await asyncio.wait({pending}, timeout=0.3)  # a bounded look for silence
    assert not done
    manual_sim.faults.stall(False)
    manual_clock.advance(61)
    first = await asyncio.wait_for(pending, 10)
    message = first if first.HasField("candle") else (await read_until(call, kind("candle")))[0]
    assert message.candle.instrument_uid == SBER_UID


async def test_refuse_streams_and_delay(manual_sim: SimServer, manual_client: Client,
                                        manual_clock: ManualClock) -> None:  # fmt: skip
    manual_sim.faults.refuse_streams(True)
    call = manual_client.stream()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call.read()
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED and caught.value.details() == "80001"
    manual_sim.faults.refuse_streams(False)
    manual_sim.faults.delay(30)
    request = marketdata_pb2.GetLastPricesRequest(instrument_id=[SBER_UID])
    pending = asyncio.ensure_future(manual_client.md.GetLastPrices(request, metadata=manual_client.metadata))
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(asyncio.shield(pending), 0.2)
    manual_clock.advance(31)
    assert (await asyncio.wait_for(pending, 10)).last_prices


async def test_reject_tokens_revokes_the_token_for_new_calls(manual_sim: SimServer,
                                                             manual_client: Client) -> None:  # fmt: skip
    """While on, every new call fails UNAUTHENTICATED 40003 (counted); an open stream keeps serving."""
    call = await _subscribed(manual_client)
    request = marketdata_pb2.GetLastPricesRequest(instrument_id=[SBER_UID])
    unary, streams = manual_sim.stats.unary_calls, manual_sim.stats.stream_calls
    manual_sim.faults.reject_tokens(True)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await manual_client.md.GetLastPrices(request, metadata=manual_client.metadata)
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED and caught.value.details() == "40003"
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await manual_client.stream().read()
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert (manual_sim.stats.unary_calls, manual_sim.stats.stream_calls) == (unary + 1, streams + 1)
    assert len(manual_sim.stats.sessions) == 1  # the open stream was not ended
    manual_sim.faults.clear()
    assert (await manual_client.md.GetLastPrices(request, metadata=manual_client.metadata)).last_prices
    call.cancel()


async def test_refuse_connections_then_back(manual_sim: SimServer, manual_client: Client,
                                            manual_clock: ManualClock) -> None:  # fmt: skip
    call = await _subscribed(manual_client)
    await manual_sim.faults.refuse_connections(30)
    with pytest.raises(grpc.aio.AioRpcError):
        await read_until(call, lambda m: False)
    request = marketdata_pb2.GetLastPricesRequest(instrument_id=[SBER_UID])
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await manual_client.md.GetLastPrices(request, metadata=manual_client.metadata, timeout=1)
    assert caught.value.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
    manual_clock.advance(31)
    await asyncio.wait_for(manual_sim.faults.wait_restored(), 10)
    answer = await manual_client.md.GetLastPrices(
        request, metadata=manual_client.metadata, wait_for_ready=True
    )
    assert answer.last_prices


async def test_tls(tmp_path: Path, manual_clock: ManualClock) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("localhost", "127.0.0.1")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    config = SimConfig(tls_cert=str(tmp_path / "cert.pem"), tls_key=str(tmp_path / "key.pem"))
    async with SimServer(config, clock=manual_clock) as sim:
        credentials = grpc.ssl_channel_credentials(root_certificates=ca.cert_pem.bytes())
        async with grpc.aio.secure_channel(f"localhost:{sim.port}", credentials) as channel:
            stub = marketdata_pb2_grpc.MarketDataServiceStub(channel)
            request = marketdata_pb2.GetLastPricesRequest(instrument_id=[SBER_UID])
            answer = await stub.GetLastPrices(request, metadata=(("authorization", f"Bearer {sim.token}"),))
            assert answer.last_prices[0].instrument_uid == SBER_UID


async def test_restart_continues_the_same_market() -> None:
    clock = ScaledClock(speed=600)
    config = SimConfig(seed=7)
    first = SimServer(config, clock=clock)
    await first.start()
    client = Client(first)
    call = await _subscribed(client)
    before, _ = await read_until(call, kind("candle"))
    start = before.candle.time.seconds
    port = first.port
    await first.stop()
    await client.close()
    second = SimServer(SimConfig(seed=7, port=port), clock=clock)
    await second.start()
    assert second.port == port
    client = Client(second)
    call = await _subscribed(client)
    closed, _ = await read_until(call, lambda m: m.HasField("candle") and m.candle.time.seconds > start + 60)
    assert first.history(SBER_UID, Interval.M1, start - 600, start) == second.history(
        SBER_UID, Interval.M1, start - 600, start)  # fmt: skip
    assert closed.candle.instrument_uid == SBER_UID
    await client.close()
    await second.stop()


async def test_sessions_close_the_market() -> None:
    friday_evening = 1_764_017_340.0 + 4 * 86_400  # Friday 2025-11-28 20:49 UTC
    clock = ManualClock(friday_evening)
    async with SimServer(SimConfig(sessions=True), clock=clock) as sim:
        client = Client(sim)
        call = client.stream()
        await call.write(
            request(
                subscribe_info_request={
                    "subscription_action": 1,
                    "instruments": [{"instrument_id": SBER_UID}],
                }
            )
        )
        status, _ = await read_until(call, kind("trading_status"))
        assert status.trading_status.trading_status == 5
        clock.advance(120)
        status, _ = await read_until(call, kind("trading_status"))
        assert status.trading_status.trading_status == 1
        assert status.trading_status.time.seconds == int(friday_evening) + 60
        saturday = int(friday_evening) + 86_400
        assert sim.history(SBER_UID, Interval.M1, saturday - 3600, saturday, as_of=saturday + 86_400) == []
        assert sim.history(SBER_UID, Interval.M1, int(friday_evening) - 60, int(friday_evening) + 60,
                           as_of=saturday)  # fmt: skip
        await client.close()


def test_cli_prints_address_and_exits_cleanly() -> None:
    code = (
        "import argparse, sys\n"
        "from monitor.cli import sim as cli\n"
        "p = argparse.ArgumentParser(); cli.add_parser(p.add_subparsers())\n"
        "a = p.parse_args(['sim', '--speed', '60', '--fault', 'stall@30:5'])\n"
        "sys.exit(a.func(a))\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("monitor sim listening on 127.0.0.1:") and " token sim-" in line
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=10)
    assert process.returncode == 130 and "Traceback" not in err  # Ctrl+C: 128 + SIGINT
