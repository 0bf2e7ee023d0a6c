"""Benchmark plumbing: results with budgets, medians of repeated runs, a table and JSON output."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Result:
    """One measured figure against its budget."""

    name: str
    figure: float
    unit: str
    budget: str
    ok: bool
    detail: dict[str, float | str] = field(default_factory=dict)

    def line(self) -> str:
        mark = "ok  " if self.ok else "MISS"
        extra = "  ".join(f"{k}={_fmt(v)}" for k, v in self.detail.items())
        return (
            f"{mark} {self.name:<34} {_fmt(self.figure):>12} {self.unit:<8} budget {self.budget:<22} {extra}"
        )


def _fmt(value: float | str) -> str:
    if isinstance(value, str):
        return value
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def timings(fn: Callable[[], object], repeat: int) -> list[float]:
    """Wall seconds of `repeat` calls of fn."""
    out: list[float] = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by nearest rank."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1))))
    return ordered[rank]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def report(results: list[Result], json_path: Path | None) -> int:
    """Prints the table (again, all together: each line also went out when measured), writes JSON
    when asked; returns the exit code (1 if a budget missed)."""
    print("\n# summary")
    for result in results:
        print(result.line(), flush=True)
    missed = [r.name for r in results if not r.ok]
    print(
        f"\n{len(results) - len(missed)} within budget, {len(missed)} missed"
        + (f": {missed}" if missed else "")
    )
    if json_path is not None:
        json_path.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 1 if missed else 0
