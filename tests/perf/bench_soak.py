"""Soak benchmark: one sim day (quick: two hours), 50 series, a fault every few sim minutes.

The simulator runs in a child process (`tests/perf/simproc.py --control`, faults sent on its
stdin), so the RSS measured here is the feed's alone: the simulator builds a day's minute grids
whenever sim time crosses midnight, which would otherwise count as the feed's growth. The book is
compared with a simulator built in this process only after the last memory sample.
"""

from __future__ import annotations

import asyncio
import logging

import psutil
import structlog

from monitor.clock import Clock
from monitor.sim import SimConfig, SimServer
from tests.hardening.soak import FAULT_KINDS, History, SoakReport, soak
from tests.perf.harness import Result
from tests.perf.procs import Child, child_main, results_in_child, start_sim
from tests.perf.simcontrol import SimControl

DAY_S = 24 * 3600
MIB = 2**20


class ChildSim:
    """The soak's simulator in a child process: the same config, on a clock that agrees with the feed's.

    `truth()` builds a SimServer here that never serves: the history is a pure function of (seed,
    uid, sim time), so it equals the child's.
    """

    def __init__(self, config: SimConfig, clock: Clock, lifetime: float) -> None:
        if config.origin is None or not config.tokens:
            raise ValueError("the child needs an explicit origin and a token")
        self.config, self.clock, self.lifetime = config, clock, lifetime
        self._started: list[Child] = []
        self._control: SimControl | None = None
        self.port = 0

    @property
    def child(self) -> Child:
        if not self._started:
            raise RuntimeError("not started")
        return self._started[0]

    @property
    def faults(self) -> SimControl:
        if self._control is None:
            raise RuntimeError("not started")
        return self._control

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.port}"

    async def start(self) -> None:
        # simproc's PerfClock(speed, origin, offset=0) is the feed's ScaledClock(speed, origin).
        child, self.port = start_sim(
            self._started,
            speed=self.config.speed,
            origin=self.config.origin,
            seed=self.config.seed,
            token=self.config.tokens[0],
            sessions=self.config.sessions,
            control=True,
            lifetime=self.lifetime,
        )
        self._control = SimControl(child)

    async def stop(self) -> None:
        self.kill()

    def kill(self) -> None:
        """Stops the child (SIGTERM, then SIGKILL); safe to call again."""
        for child in self._started:
            child.stop()

    async def symbols(self) -> list[str]:
        return await self.faults.symbols()

    async def truth(self) -> History:
        return SimServer(self.config, clock=self.clock)


def _rss(pid: int | None = None) -> int:
    return int(psutil.Process(pid).memory_info().rss)


def _soak(quick: bool) -> tuple[SoakReport, list[int], list[int]]:
    """Runs the soak with feed logging at WARNING (debug lines would dominate the run).

    Returns the report and two lists of RSS samples (bytes), this process's (the feed's) and the
    simulator's: one after each recovered fault and a last one when the run is over, taken before
    anything is built for the book-vs-truth comparison.
    """
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    feed_rss: list[int] = []
    sim_rss: list[int] = []
    sims: list[ChildSim] = []
    sim_seconds, speed, every = (2 * 3600, 300, 8 * 60) if quick else (DAY_S, 600, 4 * 60)

    def make_sim(config: SimConfig, clock: Clock) -> ChildSim:
        sims.append(ChildSim(config, clock, lifetime=10 * sim_seconds / speed + 600))
        return sims[-1]

    def sample() -> None:
        feed_rss.append(_rss())
        sim_rss.append(_rss(sims[-1].child.pid))

    try:
        report = asyncio.run(
            soak(
                sim_seconds,
                speed=speed,
                fault_every_s=every,
                min_faults=len(FAULT_KINDS),
                after_fault=sample,
                before_compare=sample,
                make_sim=make_sim,
            )
        )
    finally:
        structlog.reset_defaults()
        for sim in sims:
            sim.kill()
    return report, feed_rss, sim_rss


def _growth(samples: list[int]) -> tuple[float, float, float]:
    """(% growth from the middle sample to the last, middle MiB, last MiB).

    The first half is left out on purpose: it holds the warm-up (gRPC channels, the allocator's
    arenas, the book filling to capacity); memory is flat when the second half adds (almost) nothing.
    """
    if not samples:
        return float("nan"), float("nan"), float("nan")
    middle, end = samples[len(samples) // 2], samples[-1]
    return (end - middle) / middle * 100, middle / MIB, end / MIB


def measure(quick: bool) -> list[Result]:
    """The soak's figures: data equality, fault recovery, bounded structures, memory, time taken."""
    report, feed_rss, sim_rss = _soak(quick)
    growth, rss_middle, rss_end = _growth(feed_rss)
    sim_growth, _, sim_end = _growth(sim_rss)
    recovered = [f for f in report.faults if f.seen is not None and f.recovered_at is not None]
    recovery = sorted((f.recovered_at or 0) - f.at for f in recovered)
    kinds = {f.kind for f in recovered}
    structural = [p for p in report.problems if not p.startswith(report.mismatch_prefix)]
    return [
        Result(
            "soak: series equal to sim.history",
            float(report.series - len(report.mismatches)),
            "series",
            f"= {report.series}",
            not report.mismatches,
            {"candles": float(report.candles_compared), "first": (report.mismatches or ["-"])[0][:80]},
        ),
        Result(
            "soak: faults recovered",
            float(len(recovered)),
            "faults",
            f"= {len(report.faults)}, all kinds",
            len(recovered) == len(report.faults) and kinds == set(FAULT_KINDS),
            {
                "sim_h": report.sim_seconds / 3600,
                "reconnects": float(report.reconnects),
                "recovery_p50_sim_s": recovery[len(recovery) // 2] if recovery else float("nan"),
                "recovery_max_sim_s": recovery[-1] if recovery else float("nan"),
            },
        ),
        Result(
            "soak: bounded structures",
            float(report.max_series_len),
            "candles",
            f"<= {report.bound} (capacity+trim batch)",
            not structural and report.max_series_len <= report.bound,
            {"health_events": float(report.health_events), "problems": "; ".join(structural)[:80] or "-"},
        ),
        Result(
            "soak: RSS growth, 2nd half",
            growth,
            "%",
            "<= 10 %",
            growth <= 10.0,
            {
                "sim": "out of process",
                "rss_first_mb": feed_rss[0] / MIB if feed_rss else float("nan"),
                "rss_middle_mb": rss_middle,
                "rss_end_mb": rss_end,
                "samples": float(len(feed_rss)),
                "sim_rss_growth_pct": sim_growth,
                "sim_rss_end_mb": sim_end,
                "wall_s": report.wall_seconds,
            },
        ),
    ]


def run(quick: bool) -> list[Result]:
    """In a fresh interpreter: this process then holds the feed and nothing the runner loaded before."""
    return results_in_child("tests.perf.bench_soak", quick, 3600)


if __name__ == "__main__":
    child_main(measure)
