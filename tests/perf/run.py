"""Runs the benchmark suite and checks each figure against its budget (exit 1 if one is missed).

python tests/perf/run.py [--quick] [--json FILE] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRPC_VERBOSITY", "ERROR")

from tests.perf.harness import Result, report  # noqa: E402

BENCHMARKS = [
    "render",
    "memory",
    "ingest",
    "alerts",
    "ui_cpu",
    "latency",
    "startup",
    "recovery",
    "soak",
    "faults",
    "scale",
    "indicators",
    "store",
    "scrollback",
    "warm_start",
    "lastprices",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short runs (noisier figures)")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these benchmarks")
    args = parser.parse_args(argv)
    results: list[Result] = []
    for name in args.only or BENCHMARKS:
        try:
            module = importlib.import_module(f"tests.perf.bench_{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"tests.perf.bench_{name}":
                raise
            print(f"skip {name}: not written yet", flush=True)
            continue
        print(f"# {name}", flush=True)
        try:
            figures = module.run(args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others' figures
            traceback.print_exc()
            error: dict[str, float | str] = {"error": repr(exc)[:200]}
            figures = [Result(f"{name}: did not finish", float("nan"), "", "runs", False, error)]
        for result in figures:
            print(result.line(), flush=True)
        results += figures
    return report(results, args.json)


if __name__ == "__main__":
    sys.exit(main())
