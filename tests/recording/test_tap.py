"""The feed's recording tap: every message reaches the file, and a slow disk never holds up the book."""

from __future__ import annotations

import asyncio
import io
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[2]))

from monitor.clock import ScaledClock
from monitor.feed import Feed
from monitor.market import Interval, SeriesKey
from monitor.recording import Header, RecordingWriter, Subscription
from monitor.recording.reader import parse_recording
from monitor.sim import SimServer
from tests.feed.feedkit import SPEED, WATCH, Running, feed_config, sim_config, wait_for
from tests.recording.kit import closed_candles, recorded_versions


class StuckDisk(io.BytesIO):
    """A sink whose writes after the header wait until released: a disk that has stalled."""

    def __init__(self) -> None:
        super().__init__()
        self.stuck = threading.Event()
        self.release = threading.Event()

    def write(self, data: bytes, /) -> int:  # type: ignore[override]
        if self.tell() > 0:
            self.stuck.set()
            self.release.wait()
        return super().write(data)

    def close(self) -> None:
        """Kept open: the test reads what was written."""


async def test_a_stuck_disk_does_not_delay_candles_reaching_the_book_and_nothing_is_lost() -> None:
    clock = ScaledClock(speed=SPEED)
    disk = StuckDisk()
    writer = RecordingWriter(
        disk, Header((Subscription("SBER_TQBR", "1m"),), started_at=0.0, clock_speed=SPEED)
    )
    async with SimServer(sim_config(), clock=clock) as sim:
        feed = Feed(config=feed_config(sim, on_raw=writer.append), clock=clock)
        feed.watch(WATCH)
        run = Running(feed)
        try:
            await run.live()
            await wait_for(disk.stuck.is_set, what="the writer stuck in its first batch")
            key = SeriesKey(run.uid("SBER_TQBR"), Interval.M1)
            before = len(closed_candles(feed, key, stream_only=True))
            # A minute candle closes every 0.2 s: five more while the disk does not move at all.
            await wait_for(
                lambda: len(closed_candles(feed, key, stream_only=True)) >= before + 5,
                what="candles while stuck",
            )
            assert not disk.release.is_set() and writer.messages_written == 0
        finally:
            disk.release.set()
            await run.stop()
    await asyncio.to_thread(writer.close)
    recorded = [m for _, m in parse_recording(disk.getvalue()).messages]
    # Every closed stream candle in the book (the history is the simulator's) is the last version
    # the recording holds of its period.
    book = closed_candles(feed, key, stream_only=True)
    in_file = recorded_versions(recorded)[key.uid]
    assert book and all(in_file[t][-1] == values for t, values in book.items())
    assert writer.messages_written == len(recorded) and writer.stop_reason is None
