"""The soak run: a fast simulator, 50 series, a fault every few sim minutes, then book vs truth.

The soak drives a `SoakSim`: the simulator in this process (`InProcessSim`, what the test suite
uses) or anything else with the same switches (the benchmark runs it in a child process, so the
memory it measures is the feed's alone). The book is compared with `SoakSim.truth()`, which a
child-process sim builds only after the run: the history is a pure function of (seed, uid, time).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from monitor.clock import Clock, ScaledClock
from monitor.feed.config import FeedConfig
from monitor.feed.health import ConnectionState, HealthEvent, WatchState
from monitor.feed.supervisor import Feed
from monitor.market import Candle, Interval, WatchKey
from monitor.sim import Faults, SimConfig, SimServer, StreamEnd
from monitor.sim.catalogue import CATALOGUE
from tests.feed.feedkit import Running, closed_mismatch

TOKEN = "t." + "soakSOAK" * 6  # token-shaped (built, so no token-like literal sits in git)
END_KINDS = ("UNAVAILABLE", "INTERNAL", "CANCELLED", "STREAM_REMOVED", "CLEAN", "LIFETIME")
FAULT_KINDS = (*END_KINDS, "stall", "refuse_streams", "refuse_connections")
# Four intervals over the sim's 16 instruments give 64 series; the soak takes the first 50.
INTERVALS = (Interval.M1, Interval.M5, Interval.M15, Interval.H1)
STALE_AFTER_S = 45.0
OUTAGE_S = 30.0
# Which health event proves a fault was seen: (state, code) of a non-LIVE event after injection.
_SEEN: dict[str, tuple[ConnectionState, str | None]] = {
    "LIFETIME": (ConnectionState.RECONNECTING, "80005"),
    "stall": (ConnectionState.STALE, None),
    "refuse_streams": (ConnectionState.RECONNECTING, "80001"),
}


@dataclass
class FaultRecord:
    """One injected fault: when (sim time), and how long until LIVE with every entry ACTIVE."""

    kind: str
    at: float
    seen: HealthEvent | None = None
    recovered_at: float | None = None


@dataclass
class SoakReport:
    """What the soak measured; `problems` is empty when every check passed."""

    series: int
    sim_seconds: float = 0.0
    wall_seconds: float = 0.0
    faults: list[FaultRecord] = field(default_factory=list)
    candles_compared: int = 0
    max_series_len: int = 0
    capacity: int = 0
    bound: int = 0
    """Most candles a series may hold: capacity plus the trim batch (CandleSeries trims in batches)."""
    health_events: int = 0
    events_total: int = 0
    reconnects: int = 0
    problems: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    """Series whose closed candles differ from sim.history (also listed in `problems`)."""
    mismatch_prefix: str = "book differs: "


class FaultInjector(Protocol):
    """The simulator's fault switches the soak flips (`monitor.sim.Faults`, possibly remote)."""

    async def end_streams(self, kind: StreamEnd) -> int:
        """Ends every open stream the given way; returns how many were ended."""
        ...

    async def stall(self, on: bool = True) -> None: ...

    async def refuse_streams(self, on: bool = True) -> None: ...

    async def refuse_connections(self, seconds: float) -> None:
        """Takes the server down for `seconds` of sim time; returns once it is down."""
        ...

    async def wait_restored(self) -> None:
        """Returns once the last refuse_connections outage is over."""
        ...


class History(Protocol):
    """The ground truth: `SimServer.history`."""

    def history(self, uid: str, interval: Interval, start: int, end: int) -> list[Candle]: ...


class SoakSim(Protocol):
    """A simulator serving `config` on `clock`'s time, started and stopped by the soak."""

    @property
    def faults(self) -> FaultInjector: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    @property
    def address(self) -> str: ...

    async def symbols(self) -> list[str]:
        """The catalogue's TICKER_CLASSCODE ids, in the simulator's order."""
        ...

    async def truth(self) -> History:
        """What the book is compared with (called once, after the run)."""
        ...


SimFactory = Callable[[SimConfig, Clock], SoakSim]
"""Makes the soak's simulator from its config and the clock the feed runs on."""


class LocalFaults:
    """`FaultInjector` over an in-process simulator's `Faults`."""

    def __init__(self, faults: Faults) -> None:
        self._faults = faults

    async def end_streams(self, kind: StreamEnd) -> int:
        return self._faults.end_streams(kind)

    async def stall(self, on: bool = True) -> None:
        self._faults.stall(on)

    async def refuse_streams(self, on: bool = True) -> None:
        self._faults.refuse_streams(on)

    async def refuse_connections(self, seconds: float) -> None:
        await self._faults.refuse_connections(seconds)

    async def wait_restored(self) -> None:
        await self._faults.wait_restored()


class InProcessSim:
    """The simulator on this process's event loop (the test suite's soak)."""

    def __init__(self, config: SimConfig, clock: Clock) -> None:
        self.sim = SimServer(config, clock=clock)
        self._faults = LocalFaults(self.sim.faults)

    @property
    def faults(self) -> FaultInjector:
        return self._faults

    @property
    def address(self) -> str:
        return self.sim.address

    async def start(self) -> None:
        await self.sim.start()

    async def stop(self) -> None:
        await self.sim.stop()

    async def symbols(self) -> list[str]:
        return [inst.symbol for inst in self.sim.catalogue[: len(CATALOGUE)]]  # the hand-written ones

    async def truth(self) -> History:
        return self.sim


def soak_config(speed: float, origin: float) -> SimConfig:
    """The soak's simulator: seed 7, no trading sessions, sim time = wall time at `origin`."""
    return SimConfig(
        host="127.0.0.1", port=0, tokens=(TOKEN,), seed=7, speed=speed, origin=origin, sessions=False
    )


def watch_keys(symbols: list[str], count: int) -> tuple[WatchKey, ...]:
    keys = [WatchKey(symbol, interval) for interval in INTERVALS for symbol in symbols]
    return tuple(keys[:count])


async def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Polls `condition` (a condition wait with a wall deadline, not a sleep to wait)."""
    try:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.005)
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


def _reached(clock: Clock, at: float) -> Callable[[], bool]:
    return lambda: clock.now() >= at


def _settled(run: Running) -> bool:
    health = run.feed.health
    return health.state is ConnectionState.LIVE and all(
        w.state is WatchState.ACTIVE for w in health.watch.values()
    )


async def _inject(
    faults: FaultInjector, run: Running, kind: str, record: FaultRecord, timeout: float
) -> None:
    """Injects one fault, waits until the feed has noticed it, then lifts standing faults."""
    mark = len(run.events)
    want_state, want_code = _SEEN.get(kind, (ConnectionState.RECONNECTING, None))

    def seen() -> bool:
        for event in run.events[mark:]:
            if event.state is want_state and (want_code is None or event.code == want_code):
                record.seen = event
                return True
        return False

    if kind in END_KINDS:
        ended = await faults.end_streams(StreamEnd[kind])
        assert ended >= 1, f"{kind}: no open stream to end"
    elif kind == "stall":
        await faults.stall(True)
    elif kind == "refuse_streams":
        # Refusal applies to new streams, so end the open one to make the feed ask for another.
        await faults.refuse_streams(True)
        await faults.end_streams(StreamEnd.UNAVAILABLE)
    else:
        await faults.refuse_connections(OUTAGE_S)
    try:
        await wait_until(seen, timeout, f"{kind} in the health log")
    finally:
        await faults.stall(False)
        await faults.refuse_streams(False)
    if kind == "refuse_connections":
        await asyncio.wait_for(faults.wait_restored(), timeout)


async def soak(
    sim_seconds: float,
    speed: float,
    fault_every_s: float,
    series: int = 50,
    fault_timeout: float = 15.0,
    min_faults: int = 0,
    after_fault: Callable[[], None] | None = None,
    before_compare: Callable[[], None] | None = None,
    make_sim: SimFactory = InProcessSim,
) -> SoakReport:
    """Runs the soak; the report lists every problem instead of raising on the first.

    Args:
        sim_seconds: how long to run, in sim time, after the first LIVE.
        speed: sim seconds per wall second.
        fault_every_s: sim seconds between faults (kinds taken in turn from FAULT_KINDS).
        series: how many series to watch (instrument x interval).
        fault_timeout: wall seconds each fault may take to be seen and to recover from.
        min_faults: run past `sim_seconds` until this many faults were injected.
        after_fault: called after each recovery (the benchmark samples memory there).
        before_compare: called once the run is over, before anything is built for the comparison.
        make_sim: the simulator (default: in this process); it serves `soak_config` on a clock
            that agrees with the feed's (ScaledClock from the same origin).
    """
    origin = time.time()
    clock = ScaledClock(speed=speed, origin=origin)
    sim = make_sim(soak_config(speed, origin), clock)
    await sim.start()
    try:
        keys = watch_keys(await sim.symbols(), series)
    except BaseException:
        await sim.stop()
        raise
    feed = Feed(
        config=FeedConfig(
            endpoint=sim.address,
            token=TOKEN,
            plaintext=True,
            mode="DEMO",
            ping_delay_ms=10_000,
            stale_after_s=STALE_AFTER_S,
            connect_timeout_s=300.0,
            reconcile_interval_s=600.0,
            history_candles=30,
        ),
        clock=clock,
    )
    feed.watch(keys)
    run = Running(feed)
    report = SoakReport(series=len(keys), capacity=feed.book.capacity)
    wall_start = time.perf_counter()
    try:
        await wait_until(lambda: _settled(run), 30, "LIVE with every entry ACTIVE")
        start = clock.now()
        kinds = iter(range(1_000_000))
        next_at = start + fault_every_s
        while next_at < start + sim_seconds or len(report.faults) < min_faults:
            await wait_until(_reached(clock, next_at), fault_timeout + sim_seconds / speed, "fault time")
            kind = FAULT_KINDS[next(kinds) % len(FAULT_KINDS)]
            record = FaultRecord(kind, clock.now())
            report.faults.append(record)
            try:
                await _inject(sim.faults, run, kind, record, fault_timeout)
                await wait_until(lambda: _settled(run), fault_timeout, f"recovery after {kind}")
                record.recovered_at = clock.now()
                if after_fault is not None:
                    after_fault()
            except (AssertionError, TimeoutError) as exc:
                report.problems.append(f"fault {len(report.faults)} {kind} at {record.at:.0f}: {exc}")
                break
            next_at = max(next_at + fault_every_s, clock.now())
        await wait_until(lambda: clock.now() >= start + sim_seconds, sim_seconds / speed + 5, "the end")
        report.sim_seconds = clock.now() - start
        if before_compare is not None:
            before_compare()
        await _compare(run, await sim.truth(), keys, report)
        _bounds(run, keys, report)
    finally:
        report.wall_seconds = time.perf_counter() - wall_start
        await run.stop()
        await sim.stop()
    return report


async def _compare(run: Running, sim: History, keys: tuple[WatchKey, ...], report: SoakReport) -> None:
    """Every series' closed candles equal sim.history over the range the book holds."""
    last: dict[WatchKey, str | None] = {}

    def all_match() -> bool:
        for key in keys:
            if last.get(key, "") is not None:
                last[key] = closed_mismatch(run, sim, key.id, key.interval)
        return all(v is None for v in last.values())

    try:
        await wait_until(all_match, 10, "every book series to match sim.history")
    except AssertionError:
        report.mismatches = [f"{k.id} {k.interval.code}: {v}" for k, v in last.items() if v is not None]
        report.problems += [report.mismatch_prefix + m for m in report.mismatches]
    for key in keys:
        series = run.feed.book.find(_series_key(run, key))
        report.candles_compared += sum(1 for c in series or () if c.closed) if series else 0


def _series_key(run: Running, key: WatchKey) -> Any:
    from monitor.market import SeriesKey

    return SeriesKey(run.uid(key.id), key.interval)


def _bounds(run: Running, keys: tuple[WatchKey, ...], report: SoakReport) -> None:
    """The feed's structures stay bounded: the book, the health log, the registry, the sessions."""
    feed = run.feed
    lengths = [len(s) for k in keys if (s := feed.book.find(_series_key(run, k))) is not None]
    report.max_series_len = max(lengths, default=0)
    report.health_events = len(feed.health.events)
    report.events_total = len(run.events)
    report.reconnects = feed.health.reconnects
    if len(lengths) != len(keys):
        report.problems.append(f"{len(keys) - len(lengths)} series missing from the book")
    # CandleSeries trims in batches (excess over max(16, capacity // 8)) to keep upserts cheap.
    report.bound = feed.book.capacity + max(16, feed.book.capacity // 8)
    if report.max_series_len > report.bound:
        report.problems.append(f"a series holds {report.max_series_len} > capacity {feed.book.capacity}")
    maxlen = feed.health.events.maxlen
    if maxlen is None or report.health_events > maxlen:
        report.problems.append(f"health.events unbounded: {report.health_events} (maxlen {maxlen})")
    desired = feed._subscriptions.registry.desired
    entries = feed._subscriptions.registry._entries
    if set(entries) != set(desired):
        report.problems.append(f"registry holds {len(entries)} entries for {len(desired)} desired")
    if len(feed.health.watch) != len(keys):
        report.problems.append(f"health.watch has {len(feed.health.watch)} entries for {len(keys)} keys")
    if feed.health.streams > feed.config.max_streams:
        report.problems.append(f"{feed.health.streams} sessions open")
    for record in report.faults:
        if record.seen is None or record.recovered_at is None:
            report.problems.append(f"{record.kind} at {record.at:.0f}: not seen or not recovered")
