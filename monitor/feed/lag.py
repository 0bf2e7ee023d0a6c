"""The lag meter: how late one stream's data arrives, from the server's stamps, with the skew taken out.

Every stamped message (a ping's `time`, a candle's `last_trade_ts`, a last price's `time`) gives an
offset: our receive time minus the server's stamp. That offset is

    skew (our clock minus the server's) + transport delay + lag (queueing) + staleness,

where staleness is how old the stamped event already was when the server sent it: zero for a ping,
near zero for a forming candle or a last price sent on a trade, up to hours for the last price of
an illiquid instrument sent on subscribe, or the closing candle of a quiet period.

Neither skew nor lag is known alone, and a naive skew (the newest ping's offset) absorbs the lag:
on a slow link the clock would seem 40 s off and the data on time. Two minima separate them:

- The *baseline* is the smallest offset of any sample over a long window (BASELINE_WINDOW_S): the
  sample that queued least and was stamped freshest. It is skew + minimum delay, the estimate of
  skew the feed reports. Every term but the skew is ≥ 0, so no sample can pull it below the truth
  (a hostile stamp aside; offsets beyond MAX_OFFSET_S are ignored), and one fresh sample in the
  window is enough to pin it.
- The *lag* is the smallest offset of the fresh samples over the last RECENT_S seconds, minus the
  baseline. Each sample's offset is an upper bound on the current skew + delay, so one sample that
  arrived on time proves the link is not lagging; a lag shows only when every recent fresh sample
  came late, which on a queueing link is all of them (the queue is first in, first out).

Which samples are fresh: a ping always; a data sample only when its stamp is newer than every
stamp sampled before on this stream. An old trade stamp (an illiquid instrument's last price on
subscribe, a closing candle or a correction of a period long ago) is older than the ping or trade
already seen, so it cannot raise the lag; the ping and the freshest samples decide. At the start,
before any fresh stamp, an old stamp is the baseline itself and reads no lag.

Known limits: a constant extra delay present from the first message on is indistinguishable from
skew (it is in the baseline); a lag that stops growing is absorbed once its start leaves the long
window (then it is indistinguishable from a clock step forward). A reconnect starts a new meter,
with empty queues, so neither outlives a session.

All times here are wall seconds (a simulator's fast clock divided by its speed): the network, not
the market, decides how late a message is.
"""

from __future__ import annotations

from collections import deque

LAG_BOUND_S = 5.0
"""Wall seconds of lag above which a stream reads LAGGING.

Above what a healthy link shows: the baseline is a minimum, so what remains is delay jitter (a
TCP retransmission is ~0.2-1 s, a GC or render pause on our loop well under 1 s) plus the
staleness of fresh stamps (a forming candle is sent within a fraction of a second of its trade).
Below what a user would act on: a minute candle's close 5 s late is visible on the axis, and the
chart's price is then behind what a broker's terminal shows.
"""
CAUGHT_UP_S = 2.5
"""Wall seconds of lag under which a LAGGING stream reads caught up (hysteresis: a lag hovering
near the bound does not flap)."""
SAMPLE_EVERY_S = 0.25
"""Wall seconds between two sampled data messages of one stream (pings are always sampled): the
receive loop pays one comparison per message, the meter a few samples a second."""
RECENT_S = 2.0
"""Wall seconds of fresh samples whose minimum is the current lag: long enough for several samples
on a busy stream (one late outlier cannot raise it), short enough to follow a growing lag closely.

Detection bound: once the data arrives more than LAG_BOUND_S late, LAGGING is announced by the
first sample after every sample of the last RECENT_S seconds was that late: within RECENT_S +
SAMPLE_EVERY_S of the first late message, plus the gap to the next message. On a link whose lag
grows from zero, the lag is announced within LAG_BOUND_S + RECENT_S + SAMPLE_EVERY_S (≈ 7.3 s)
of the first delayed message, as long as messages keep arriving (silence is the watchdog's: STALE).
"""
BASELINE_WINDOW_S = 600.0
"""Wall seconds the baseline remembers: long enough that a lag lasting minutes still reads as lag,
short enough that a clock step forward (NTP) stops reading as lag within ten minutes."""
BASELINE_BUCKET_S = 30.0
"""The baseline keeps one minimum per bucket of this many seconds (20 numbers, not every sample)."""
MAX_OFFSET_S = 3600.0
"""Offsets beyond an hour either way are ignored: a stamp that far off tells nothing about delay
(an old trade) or is nonsense (a hostile or broken server), and would poison the baseline."""


class LagMeter:
    """One stream's skew and lag estimate, fed a sample at a time (pure: no clock, no I/O)."""

    __slots__ = ("_buckets", "_newest", "_recent")

    def __init__(self) -> None:
        self._buckets: deque[list[float]] = deque()
        """[bucket start, smallest offset in it], oldest first."""
        self._recent: deque[tuple[float, float]] = deque()
        """(receive time, offset) of the fresh samples of the last RECENT_S seconds."""
        self._newest: float | None = None
        """The newest stamp sampled so far (server time)."""

    def sample(self, at: float, stamp: float, *, fresh: bool = False) -> None:
        """Records a message received at `at` (ours) stamped `stamp` (the server's); `fresh` for a
        ping, whose stamp is its send time by definition."""
        offset = at - stamp
        if not -MAX_OFFSET_S <= offset <= MAX_OFFSET_S:
            return
        buckets = self._buckets
        if buckets and at - buckets[-1][0] < BASELINE_BUCKET_S:
            if offset < buckets[-1][1]:
                buckets[-1][1] = offset
        else:
            buckets.append([at, offset])
        while at - buckets[0][0] > BASELINE_WINDOW_S:
            buckets.popleft()
        newest = self._newest
        if newest is None or stamp > newest:
            self._newest = stamp
            fresh = True
        if fresh:
            self._recent.append((at, offset))

    @property
    def skew(self) -> float | None:
        """Our clock minus the server's (plus the minimum delay), or None before any sample."""
        return min(bucket[1] for bucket in self._buckets) if self._buckets else None

    def lag(self, at: float) -> float | None:
        """How late the data arrives now, beyond the baseline; None without a recent fresh sample."""
        recent = self._recent
        while recent and at - recent[0][0] > RECENT_S:
            recent.popleft()
        baseline = self.skew
        if not recent or baseline is None:
            return None
        return max(0.0, min(offset for _, offset in recent) - baseline)
