"""Alert budget: 100 rules cost ≤ 5 % of the ingest, measured two ways in one run.

(a) The firehose of bench_ingest (every catalogue series on 1m) read by the real Feed, with and
    without an AlertEngine holding 100 rules over those series, in alternating rounds: the rate
    ratio (rules / none) must stay ≥ 0.95.
(b) 100 rules over 50 series fed 1,000 updates (prices, forming and closed candles) through the
    feed's listeners in process: the engine's CPU per update against the Feed's CPU per ingested
    message from (a) (the reference, printed beside it), ≤ 0.05; and the share of one core that
    1,000 updates/s take.
"""

from __future__ import annotations

import time
from typing import Any

from monitor.alerts import AlertEngine, AlertRule, AlertState, make_rule
from monitor.feed import ConnectionState
from monitor.feed.supervisor import Feed
from monitor.feed.testing import FakeFeed, demo_instrument
from monitor.market import Candle, CandleSeries, Interval, SeriesKey
from monitor.sim.catalogue import Catalogue
from tests.perf import bench_ingest
from tests.perf.harness import Result, median
from tests.perf.procs import child_main, results_in_child

RULES = 100
SERIES = 50
UPDATES = 1_000
FORMS = ("price above {hi}", "price crosses {mid}", "close above {hi}", "close below sma 20",
         "change above 5%", "volume above 3 x 20")  # fmt: skip


def rules_for(ids: list[str], base: float = 100.0) -> list[AlertRule]:
    """RULES rules spread round-robin over `ids`, every kind, levels the prices never reach."""
    rules = []
    for n in range(RULES):
        form = FORMS[n % len(FORMS)].format(hi=base * 10, mid=base * 20)
        rules.append(make_rule(ids[n % len(ids)], form, Interval.M1, mode="rearm", rule_id=f"r{n}"))
    return rules


def flat_indicator(_series: CandleSeries, _kind: str, _n: int, _time: int) -> float | None:
    return 0.0  # the real indicator's cost is the indicator benchmark's, not the engine's


def _feed_with_rules(*args: Any, **kwargs: Any) -> Feed:
    feed = Feed(*args, **kwargs)
    ids = [item.uid for item in Catalogue().items]
    engine = AlertEngine(rules_for(ids), AlertState(None), indicator=flat_indicator)
    engine.attach(feed)
    return feed


async def _firehose(address: str, total: int, rounds: int) -> dict[str, list[bench_ingest.Run]]:
    runs: dict[str, list[bench_ingest.Run]] = {"none": [], "rules": []}
    await bench_ingest.raw_run(address, min(total, 5_000), decode=True)  # warm-up
    for _ in range(rounds):
        for name, factory in (("none", Feed), ("rules", _feed_with_rules)):
            # bench_ingest.feed_run builds its feed from its module's `Feed`: the rules ride along.
            namespace = vars(bench_ingest)
            namespace["Feed"] = factory
            try:
                runs[name].append(await bench_ingest.feed_run(address, total))
            finally:
                namespace["Feed"] = Feed
    return runs


class _NoEngine:
    """The engine's listener calls doing nothing: the loop's own cost, subtracted from the engine's."""

    def on_price(self, uid: str, price: float, at: float) -> None: ...

    def on_candle(self, key: SeriesKey, candle: Candle) -> None: ...

    def on_change(self) -> None: ...


def engine_cost_per_update() -> float:
    """CPU seconds per update of 100 rules over 50 series, called as the feed's listeners call it,
    less the same loop with listeners that do nothing (the book's upserts are the ingest's)."""
    instruments = [demo_instrument(f"T{i:02d}", f"Test {i}") for i in range(SERIES)]
    feed = FakeFeed(instruments=instruments)
    feed.set_connection(ConnectionState.LIVE)
    engine = AlertEngine(
        rules_for([i.symbol for i in instruments]), AlertState(None), indicator=flat_indicator
    )
    engine.attach(feed)
    uids = [item.uid for item in instruments]
    start = 1_764_000_000 // 60 * 60
    for uid in uids:
        feed.book.set_session_open(uid, 100.0)

    def one_pass(target: AlertEngine | _NoEngine, offset: int) -> float:
        """A mix as a live stream brings it: half prices, forming candles, a close every tenth."""
        begin = time.process_time()
        for n in range(UPDATES):
            uid, t = uids[n % SERIES], start + 60 * (offset + n // 100)
            price = 100.0 + (n % 7) * 0.01
            if n % 2:
                target.on_price(uid, price, float(t + n % 60))
            else:
                candle = Candle(t, 100.0, price, 99.9, price, 10 + n + offset, n % 10 == 0)
                series = feed.book.series(SeriesKey(uid, Interval.M1))
                if series.upsert(candle):
                    target.on_candle(series.key, candle)
            target.on_change()
        return (time.process_time() - begin) / UPDATES

    for offset in range(3):  # warm-up: baselines taken, every rule evaluating
        one_pass(engine, offset * 100)
    costs = [one_pass(engine, k * 100) - one_pass(_NoEngine(), k * 100 + 50) for k in range(3, 23)]
    return median(costs)


def run(quick: bool) -> list[Result]:
    return results_in_child("tests.perf.bench_alerts", quick, 900)


def measure(quick: bool) -> list[Result]:
    total, rounds = (30_000, 5) if quick else (60_000, 7)
    runs, _ = bench_ingest.against_firehose(total, lambda address: _firehose(address, total, rounds))
    ratio = median([r.rate / n.rate for r, n in zip(runs["rules"], runs["none"], strict=True)])
    feed_cpu = median([r.cpu_per_message for r in runs["none"]])
    per_update = engine_cost_per_update()
    cost = per_update / feed_cpu
    detail: dict[str, float | str] = {
        "rules_msg_s": median([r.rate for r in runs["rules"]]),
        "none_msg_s": median([r.rate for r in runs["none"]]),
        # CPU per message is steadier than the rate on a shared machine: shown beside it.
        "cpu_ratio_none_rules": median(
            [n.cpu_per_message / r.cpu_per_message for r, n in zip(runs["rules"], runs["none"], strict=True)]
        ),
        "series": float(len(Catalogue().items)),
        "rounds": float(rounds),
    }
    cost_detail: dict[str, float | str] = {
        "engine_us_update": per_update * 1e6,
        "feed_us_msg_reference": feed_cpu * 1e6,
        "core_share_at_1000_s": per_update * UPDATES,
        "rules": float(RULES),
        "series": float(SERIES),
    }
    return [
        Result("alerts: ingest rate rules / none", ratio, "ratio", ">= 0.95", ratio >= 0.95, detail),
        Result("alerts: engine cpu / ingest cpu", cost, "ratio", "<= 0.05", cost <= 0.05, cost_detail),
    ]


if __name__ == "__main__":
    child_main(measure)
