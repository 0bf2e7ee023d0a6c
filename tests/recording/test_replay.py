"""ReplayServer in process: a cut recording replays up to the cut, GetCandles serves what was sent,
instruments only the recording knows resolve."""

from __future__ import annotations

import asyncio
import io
import sys
from pathlib import Path

import grpc.aio
import structlog

sys.path.insert(0, str(Path(__file__).parents[2]))

from monitor.clock import ScaledClock
from monitor.feed import Feed
from monitor.market import Interval, SeriesKey, WatchKey
from monitor.pb import common_pb2, marketdata_pb2_grpc
from monitor.pb import marketdata_pb2 as md
from monitor.recording import Header, RecordingWriter, Subscription
from monitor.recording.format import encode_header, encode_record
from monitor.recording.reader import parse_recording
from monitor.sim import SimServer
from monitor.sim.replay import ReplayServer
from tests.feed.feedkit import SPEED, Running, feed_config, sim_config, wait_for
from tests.recording.kit import closed_candles, expected_closed, recorded_versions

SBER = WatchKey("SBER_TQBR", Interval.M1)
STALL_PROOF_S = 3_600.0
"""A silence bound (clock seconds, 12 s of wall time at SPEED) no pause of a loaded machine reaches."""
HEADER = Header((Subscription("SBER_TQBR", "1m"),), started_at=0.0, clock_speed=SPEED)


class Kept(io.BytesIO):
    def close(self) -> None:
        """Kept open: the test reads what was written."""


async def record_session(clock: ScaledClock, periods: int) -> bytes:
    """Records SBER from the simulator until `periods` minute candles have been seen."""
    sink = Kept()
    writer = RecordingWriter(sink, HEADER)
    seen: set[int] = set()

    def tap(message: md.MarketDataResponse, at: float) -> None:
        writer.append(message, at)
        if message.WhichOneof("payload") == "candle":
            seen.add(message.candle.time.seconds)

    async with SimServer(sim_config(), clock=clock) as sim:
        run = Running(Feed(config=feed_config(sim, on_raw=tap), clock=clock))
        run.feed.watch([SBER])
        try:
            await wait_for(lambda: len(seen) >= periods, what=f"{periods} periods recorded")
        finally:
            await run.stop()
    await asyncio.to_thread(writer.close)
    return sink.getvalue()


def cut_inside_a_late_candle(data: bytes) -> bytes:
    """`data` cut in the middle of the record of a candle two thirds of the way through."""
    recording = parse_recording(data)
    offsets, offset = [], len(encode_header(recording.header))
    for at, message in recording.messages:
        record = encode_record(at, message.SerializeToString())
        if message.WhichOneof("payload") == "candle":
            offsets.append((offset, len(record)))
        offset += len(record)
    start, length = offsets[len(offsets) * 2 // 3]
    return data[: start + length // 2]


async def test_a_cut_recording_replays_up_to_the_cut_and_the_log_says_where() -> None:
    clock = ScaledClock(speed=SPEED)
    cut = parse_recording(cut_inside_a_late_candle(await record_session(clock, 8)))
    assert cut.truncated
    versions = recorded_versions(m for _, m in cut.messages)
    (uid,) = versions
    want = expected_closed(versions[uid])
    newest = max(versions[uid])
    with structlog.testing.capture_logs() as logs:
        replay = ReplayServer(cut, sim_config(), speed=2.0)
    assert {"event": "replay_cut", "cut_at": cut.cut_at, "size": cut.size} == {
        k: v for k, v in logs[0].items() if k in ("event", "cut_at", "size")
    }
    async with replay:
        # No stall reconnect on a loaded machine (the default bound is 0.4 s of wall time here): a
        # stream opened later joins the replay where it has got to, and the forming candle's last
        # version, if it went to the dropped stream, is never sent again (history leaves it out).
        run = Running(Feed(config=feed_config(replay, stale_after_s=STALL_PROOF_S), clock=clock))
        run.feed.watch([SBER])
        key = SeriesKey(uid, Interval.M1)
        try:
            await wait_for(
                lambda: closed_candles(run.feed, key) == want, what="the closed candles before the cut"
            )
            await wait_for(lambda: replay.timeline.finished, what="the replay to reach the cut")
            series = run.feed.book.find(key)
            assert series is not None

            def forming_is_the_last_before_the_cut() -> bool:
                c = series.newest
                last = versions[uid][newest][-1]
                return (
                    c is not None and c.time == newest and (c.open, c.high, c.low, c.close, c.volume) == last
                )

            await wait_for(forming_is_the_last_before_the_cut, what="the newest candle as last recorded")
            assert series.newest is not None and not series.newest.closed
            assert all(c.time <= newest for c in series)  # nothing from beyond the cut
            candles = await get_candles(replay, uid)
        finally:
            await run.stop()
    # GetCandles serves the replayed candles, the newest one forming.
    assert [(c.time.seconds, c.is_complete) for c in candles] == [
        (t, t != newest) for t in sorted(versions[uid])
    ]


async def get_candles(server: SimServer, uid: str) -> list[md.HistoricCandle]:
    async with grpc.aio.insecure_channel(server.address) as channel:
        stub = marketdata_pb2_grpc.MarketDataServiceStub(channel)
        request = md.GetCandlesRequest(instrument_id=uid, interval=md.CANDLE_INTERVAL_1_MIN, limit=100)
        response = await stub.GetCandles(request, metadata=[("authorization", f"Bearer {server.token}")])
        return list(response.candles)


async def test_get_candles_is_empty_until_the_replay_starts() -> None:
    data = await record_session(ScaledClock(speed=SPEED), 2)
    recording = parse_recording(data)
    uid = next(iter(recorded_versions(m for _, m in recording.messages)))
    async with ReplayServer(recording, sim_config()) as replay:
        assert await get_candles(replay, uid) == []


async def test_an_instrument_only_the_recording_knows_resolves_and_replays() -> None:
    uid = "00000000-0000-4000-8000-000000000001"
    candle = md.Candle(
        instrument_uid=uid, figi="FIGI-X", ticker="XREC", class_code="TQBR",
        interval=md.SUBSCRIPTION_INTERVAL_ONE_MINUTE, open=common_pb2.Quotation(units=10),
        high=common_pb2.Quotation(units=11), low=common_pb2.Quotation(units=9),
        close=common_pb2.Quotation(units=10, nano=500_000_000), volume=7,
    )  # fmt: skip
    clock = ScaledClock(speed=SPEED)
    now = int(clock.now()) - int(clock.now()) % 60
    messages = []
    for minute in range(3):
        message = md.MarketDataResponse(candle=candle)
        message.candle.time.seconds = now + 60 * minute
        messages.append((1000.0 + minute, message))
    data = encode_header(HEADER) + b"".join(encode_record(at, m.SerializeToString()) for at, m in messages)
    async with ReplayServer(parse_recording(data), sim_config(), speed=1.0) as replay:
        run = Running(Feed(config=feed_config(replay), clock=clock))
        run.feed.watch([WatchKey("XREC_TQBR", Interval.M1)])
        try:
            await wait_for(lambda: run.feed.instrument("XREC_TQBR") is not None, what="XREC resolved")
            instrument = run.feed.instrument("XREC_TQBR")
            assert instrument is not None and (instrument.uid, instrument.figi) == (uid, "FIGI-X")
            key = SeriesKey(uid, Interval.M1)
            await wait_for(lambda: set(closed_candles(run.feed, key)) == {now, now + 60}, what="XREC candles")
        finally:
            await run.stop()
