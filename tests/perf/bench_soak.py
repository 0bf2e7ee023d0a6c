"""Soak benchmark: one sim day (quick: two hours), 50 series, a fault every few sim minutes."""

from __future__ import annotations

import asyncio
import logging

import psutil
import structlog

from tests.hardening.soak import FAULT_KINDS, SoakReport, soak
from tests.perf.harness import Result

DAY_S = 24 * 3600


def _soak(quick: bool) -> tuple[SoakReport, float, float]:
    """Runs the soak with feed logging at WARNING (debug lines would dominate the run).

    Returns the report, the RSS (MiB) halfway through the faults and the RSS at the end: memory is
    flat when the second half of the run adds (almost) nothing.
    """
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    process = psutil.Process()
    samples: list[int] = []

    def sample() -> None:
        samples.append(process.memory_info().rss)

    try:
        if quick:
            report = asyncio.run(
                soak(
                    2 * 3600, speed=300, fault_every_s=8 * 60, min_faults=len(FAULT_KINDS), after_fault=sample
                )
            )
        else:
            report = asyncio.run(
                soak(DAY_S, speed=600, fault_every_s=4 * 60, min_faults=len(FAULT_KINDS), after_fault=sample)
            )
    finally:
        structlog.reset_defaults()
    middle = samples[len(samples) // 2] if samples else process.memory_info().rss
    return report, middle / 2**20, process.memory_info().rss / 2**20


def run(quick: bool) -> list[Result]:
    """The soak's figures: data equality, fault recovery, bounded structures, time taken."""
    report, rss_middle, rss_end = _soak(quick)
    growth = (rss_end - rss_middle) / rss_middle * 100
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
            {"rss_middle_mb": rss_middle, "rss_end_mb": rss_end, "wall_s": report.wall_seconds},
        ),
    ]
