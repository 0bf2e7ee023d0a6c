"""Measurements of a feed through a FaultProxy: health timeline, closes per period, connections.

These are the read-outs the network tests and `tests/perf/bench_faults.py` share. Some feed
behaviours are still being built (issue 11): closed means server-confirmed, LAGGING health, and a
channel whose reconnects follow the feed's backoff. The helpers measure them already, so their
assertions are one line each once the behaviour is merged (see the `PENDING` notes in
tests/feed/test_network.py).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from monitor.feed import Feed, HealthEvent
from monitor.feed.backoff import CAP, FACTOR, INITIAL, JITTER
from monitor.market import Candle, SeriesKey
from tests.netfault.proxy import FaultProxy


def state_name(health: Any) -> str:
    """What the status bar says, by name: the connection state, or LAGGING while the connection
    is LIVE and a stream's data arrives late (a health fact beside the state, feed/lag.py)."""
    name = str(health.state.name)
    return "LAGGING" if name == "LIVE" and getattr(health, "lagging", None) is not None else name


@dataclass
class Timeline:
    """Every change of what `describe(feed.health)` says, with the wall time (monotonic) it was seen.

    Attached as a change listener (the feed calls it on every book or health change), so a state
    is caught the moment it is set, not at a poll.
    """

    feed: Feed
    describe: Callable[[Any], str] = state_name
    changes: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.feed.add_listener(self._look)
        self._look()

    def _look(self) -> None:
        said = self.describe(self.feed.health)
        if not self.changes or self.changes[-1][1] != said:
            self.changes.append((time.monotonic(), said))

    @property
    def now(self) -> str:
        self._look()
        return self.changes[-1][1]

    def states(self, since: float = 0.0) -> list[str]:
        """The states in order from `since` on (the one in force at `since` first)."""
        before = [s for t, s in self.changes if t <= since][-1:]
        return before + [s for t, s in self.changes if t > since]

    def first(self, predicate: Callable[[str], bool], since: float) -> float | None:
        """The wall time of the first change after `since` whose state satisfies `predicate`."""
        return next((t for t, s in self.changes if t >= since and predicate(s)), None)

    def left_live(self, since: float) -> float | None:
        """When health first said anything but LIVE after `since` (detection of a fault)."""
        return self.first(lambda s: s != "LIVE", since)

    def live_again(self, since: float) -> float | None:
        """When health first said LIVE after `since` (recovery once the fault is gone)."""
        return self.first(lambda s: s == "LIVE", since)


class CloseLog:
    """Every closed candle the feed announced (candle listener), per series and period, in order."""

    def __init__(self, feed: Feed) -> None:
        self.closes: dict[tuple[SeriesKey, int], list[Candle]] = {}
        feed.add_candle_listener(self._on_candle)

    def _on_candle(self, key: SeriesKey, candle: Candle) -> None:
        if candle.closed:
            self.closes.setdefault((key, candle.time), []).append(candle)

    def per_period(self, key: SeriesKey) -> dict[int, int]:
        """How many times each period of `key` was announced closed (1 each once closed = final)."""
        return {t: len(v) for (k, t), v in self.closes.items() if k == key}

    def changed_after_close(self, key: SeriesKey) -> dict[int, int]:
        """Periods whose closed values changed after the first close, with the number of changes.

        Once "closed" means server-confirmed, this is empty unless the server itself corrected a
        closed candle (the simulator's late-trade corrections do).
        """
        out: dict[int, int] = {}
        for (k, t), seen in self.closes.items():
            if k == key:
                values = {(c.open, c.high, c.low, c.close, c.volume) for c in seen}
                if len(values) > 1:
                    out[t] = len(values) - 1
        return out


def server_corrections(sim: Any, key: SeriesKey, periods: Iterable[int], settle_s: float = 0.001) -> set[int]:
    """The periods the simulator itself changed after they closed (its late-trade corrections).

    A period's candle as the sim knew it `settle_s` after the period ended, against today's: what
    differs is a correction the server made, the one kind of change a closed candle may still
    show once "closed" means final (`CloseLog.changed_after_close` ⊆ this set).
    """
    now, step = sim.clock.now(), key.interval.seconds
    out: set[int] = set()
    for t in periods:
        first = sim.history(key.uid, key.interval, t, t + 1, as_of=t + step + settle_s)
        final = sim.history(key.uid, key.interval, t, t + 1, as_of=now)
        if first != final:
            out.add(t)
    return out


def closed_lines_per_period(records: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], int]:
    """`monitor stream --json` records: how many closed lines each (instrument, period) got.

    Today a period can be printed closed several times (an early close by the local clock, then
    corrections); once closed is final, each count is 1, plus the server's own corrections.
    """
    counts: Counter[tuple[str, str]] = Counter()
    for record in records:
        if record.get("closed"):
            counts[(str(record["instrument"]), str(record["time"]))] += 1
    return dict(counts)


def connections_between(proxy: FaultProxy, start: float, end: float) -> int:
    """TCP connections the proxy accepted in [start, end) (monotonic wall seconds)."""
    return sum(1 for t in proxy.connection_times if start <= t < end)


def connections_per_outage_minute(proxy: FaultProxy, start: float, end: float) -> float:
    """TCP connections per minute of the outage [start, end) (wall time)."""
    return connections_between(proxy, start, end) * 60.0 / max(end - start, 1e-9)


def schedule_attempts(
    outage_s: float,
    *,
    initial: float = INITIAL,
    factor: float = FACTOR,
    jitter: float = JITTER,
    cap: float = CAP,
) -> int:
    """The most reconnect attempts the feed's backoff (monitor/feed/backoff.py) allows in an outage.

    Every delay at the low end of its jitter, and attempts that take no time themselves: an upper
    bound on what the feed may do in `outage_s` seconds of its own clock (the first attempt
    follows the first delay, as in `StreamSupervisor._back_off`).
    """
    attempts, elapsed, current = 0, 0.0, min(initial, cap)
    while True:
        elapsed += current * (1.0 - jitter)
        if elapsed > outage_s:
            return attempts
        attempts += 1
        current = min(current * factor, cap)


def feed_attempts(events: Sequence[HealthEvent], start: float, end: float) -> int:
    """Reconnect attempts the feed announced with clock times in [start, end) (distinct numbers)."""
    numbers = {e.attempt for e in events if e.state.name == "RECONNECTING" and start <= e.at < end}
    return len(numbers)
