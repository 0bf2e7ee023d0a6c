"""The hostile fault: malformed messages go out on open streams, and the streams keep serving."""

from __future__ import annotations

import grpc

from monitor.cli.sim import parse_fault
from monitor.feed.channel import MAX_RECEIVE_BYTES as MAX
from monitor.pb import marketdata_pb2_grpc
from monitor.sim import HostileKind, SimServer
from monitor.sim.hostile import HUGE_BYTES

from .helpers import SBER_UID, Client, candles_request, kind, read_until


async def test_hostile_messages_arrive_and_the_stream_goes_on(manual_sim: SimServer) -> None:
    """Unknown member, a ~9 MiB ping and a swapped candle arrive in order; the stream stays open."""
    # The feed's 10 MiB receive limit (the stub client's default is 4 MiB).
    channel = grpc.aio.insecure_channel(
        manual_sim.address, options=[("grpc.max_receive_message_length", MAX)]
    )
    stub = marketdata_pb2_grpc.MarketDataStreamServiceStub(channel)
    call = stub.MarketDataStream(metadata=(("authorization", f"Bearer {manual_sim.token}"),))
    await call.write(candles_request(SBER_UID))
    await read_until(call, kind("subscribe_candles_response"))
    assert manual_sim.faults.hostile(HostileKind.UNKNOWN_FIELD) == 1
    assert manual_sim.faults.hostile("huge") == 1
    assert manual_sim.faults.hostile(HostileKind.HIGH_BELOW_LOW) == 1
    unknown, _ = await read_until(call, lambda m: m.WhichOneof("payload") is None)
    assert unknown.SerializeToString() == b"\xa2\x01\x03abc"  # kept as an unknown field
    huge, _ = await read_until(call, kind("ping"))
    assert len(huge.ping.stream_id) == HUGE_BYTES
    bad, _ = await read_until(call, lambda m: m.candle.high.units < m.candle.low.units)
    low, high = bad.candle.low, bad.candle.high
    assert (low.units, low.nano) > (high.units, high.nano)
    assert manual_sim.stats.hostile_sent == {"unknown-field": 1, "huge": 1, "high-below-low": 1}
    manual_sim.faults.hostile(HostileKind.NO_TIME)
    missing, _ = await read_until(call, lambda m: kind("candle")(m) and not m.candle.HasField("time"))
    assert missing.candle.HasField("close")
    assert len(manual_sim.stats.sessions) == 1
    call.cancel()
    await channel.close()


async def test_candle_kinds_need_a_candle_subscription(manual_sim: SimServer, manual_client: Client) -> None:
    """Without candle subscriptions only the kinds that need none are sent."""
    call = manual_client.stream()
    await call.write(candles_request(SBER_UID, action=2))
    await read_until(call, kind("subscribe_candles_response"))
    assert manual_sim.faults.hostile(HostileKind.NO_PRICES) == 0
    assert manual_sim.faults.hostile(HostileKind.UNSUBSCRIBED) == 0
    assert manual_sim.faults.hostile(HostileKind.UNKNOWN_FIELD) == 1
    call.cancel()


def test_cli_accepts_the_hostile_fault() -> None:
    plan = parse_fault("hostile@30")
    assert (plan.kind, plan.period) == ("hostile", 30.0)
