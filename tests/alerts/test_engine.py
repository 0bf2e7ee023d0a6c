"""The engine against hand-made prices and candles: every rule kind, crossings fire exactly once."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from monitor.alerts import AlertFired
from monitor.feed import ConnectionState
from monitor.market import Candle, Interval, WatchKey
from tests.alerts.kit import T0, Rig, candle, rule


def test_price_above_fires_exactly_at_the_level_once() -> None:
    rig = Rig(rule("price above 354.5", mode="once"))
    rig.prices(350.0, 354.49)
    assert rig.fired == []
    rig.prices(354.5)
    assert rig.values == [354.5]
    assert rig.fired[0].offline is False and rig.fired[0].price_or_candle == 354.5
    rig.prices(356.0, 340.0, 360.0)  # a once rule is disarmed after its fire
    assert rig.values == [354.5]
    assert rig.engine.statuses()[0].armed is False


def test_a_gap_over_the_level_fires_with_the_price_beyond_it() -> None:
    rig = Rig(rule("price above 354.5"))
    rig.prices(350.0, 360.0)
    assert rig.values == [360.0]


def test_the_first_price_is_a_baseline_a_rule_already_crossed_waits_for_the_next_crossing() -> None:
    rig = Rig(rule("price above 354.5"))
    rig.prices(360.0, 358.0)
    assert rig.fired == []
    rig.prices(354.0, 355.0)
    assert rig.values == [355.0]


def test_price_below_fires_when_reached_from_above() -> None:
    rig = Rig(rule("price below 100"))
    rig.prices(101.0, 100.01, 100.0)
    assert rig.values == [100.0]


def test_rearm_fires_again_only_after_moving_back_by_the_hysteresis() -> None:
    rig = Rig(rule("price above 100", mode="rearm", hysteresis=0.5))
    rig.prices(99.0, 100.0)
    rig.prices(99.7, 100.2)  # back by 0.3 only: jitter around the level, no fire
    assert rig.values == [100.0]
    rig.prices(99.49, 100.1)
    assert rig.values == [100.0, 100.1]


def test_rearm_default_hysteresis_is_ten_price_steps() -> None:
    rig = Rig(rule("price above 100", mode="rearm"))  # SBER's step is 0.01: 0.1
    rig.prices(99.0, 100.0, 99.95, 100.0)
    assert rig.values == [100.0]
    rig.prices(99.89, 100.0)
    assert rig.values == [100.0, 100.0]


def test_crosses_fires_both_ways_with_hysteresis() -> None:
    rig = Rig(rule("price crosses 100", mode="rearm", hysteresis=0.5))
    rig.prices(99.0, 100.0)  # up
    rig.prices(99.8, 100.3)  # not away by the hysteresis yet: nothing
    rig.prices(100.6, 100.0)  # down
    rig.prices(99.0)  # down, by more than the hysteresis: ready to go up again
    assert rig.values == [100.0, 100.0]
    rig.prices(100.4)
    assert rig.values == [100.0, 100.0, 100.4]


def test_crosses_once_fires_one_way_only() -> None:
    rig = Rig(rule("price crosses 100"))
    rig.prices(101.0, 99.0, 101.0, 99.0)
    assert rig.values == [99.0]


def test_an_older_price_than_one_already_seen_is_ignored() -> None:
    rig = Rig(rule("price above 100"))
    rig.prices(99.0)
    rig.engine.on_price("uid-sber", 101.0, rig.feed.clock.now() - 10)
    assert rig.fired == []


def test_close_above_fires_on_closed_candles_only_with_the_candle() -> None:
    rig = Rig(rule("close above 100"))
    rig.closes(99.0)
    rig.candles(candle(1, 105.0, closed=False))  # forming: not final, never read
    assert rig.fired == []
    rig.candles(candle(1, 100.0))
    assert rig.values == [100.0]
    fired = rig.fired[0]
    assert isinstance(fired.price_or_candle, Candle) and fired.time == T0 + 60


def test_a_correction_that_moves_the_close_back_neither_unfires_nor_refires() -> None:
    rig = Rig(rule("close above 100", mode="rearm", hysteresis=0.5))
    rig.closes(99.0, 101.0)
    assert rig.values == [101.0]
    rig.candles(candle(1, 98.0, volume=150))  # the server corrects the period below the level
    rig.candles(candle(1, 101.5, volume=180))  # and above again
    assert rig.values == [101.0]
    assert rig.engine.statuses()[0].fired == 1


def test_a_resent_candle_does_not_fire_again() -> None:
    rig = Rig(rule("close above 100", mode="rearm", hysteresis=0))
    rig.closes(99.0, 101.0)
    rig.engine.on_candle(rig.series.key, candle(1, 101.0))  # the same candle announced again
    rig.candles(candle(1, 101.0, volume=100))
    assert rig.values == [101.0]


def test_close_below_and_a_gap_between_two_closes() -> None:
    rig = Rig(rule("close below 100"))
    rig.closes(104.0, 95.0)
    assert rig.values == [95.0]


def test_close_above_sma_uses_the_injected_indicator() -> None:
    rig = Rig(rule("close above sma 3"))
    rig.closes(100.0, 99.0, 98.0, 97.0)  # below its average: armed
    assert rig.fired == []
    rig.closes(100.0, start=4)  # sma(98, 97, 100) = 98.33
    assert rig.values == [100.0]


def test_close_below_ema() -> None:
    rig = Rig(rule("close below ema 2"))
    rig.closes(100.0, 101.0, 102.0, 99.0)
    assert rig.values == [99.0]


def test_close_on_an_indicator_without_an_indicator_function_never_fires() -> None:
    rig = Rig(rule("close above sma 2"))
    rig.engine._indicator = None
    rig.closes(100.0, 90.0, 80.0, 120.0)
    assert rig.fired == []


def test_change_above_percent_since_the_session_open() -> None:
    rig = Rig(rule("change above 2%"))
    rig.feed.set_price("SBER_TQBR", 101.0, session_open=100.0)
    rig.prices(101.99)
    assert rig.fired == []
    rig.prices(102.0)
    assert rig.values == [pytest.approx(2.0)]


def test_change_below_a_negative_percent() -> None:
    rig = Rig(rule("change below -1.5%"))
    rig.feed.set_price("SBER_TQBR", 99.0, session_open=100.0)
    rig.prices(98.5)
    assert rig.values == [pytest.approx(-1.5)]


def test_change_without_a_session_open_does_nothing() -> None:
    rig = Rig(rule("change above 1%"))
    rig.prices(1.0, 1000.0)
    assert rig.fired == []


def test_volume_above_n_times_the_average_of_the_previous_m() -> None:
    rig = Rig(rule("volume above 2 x 3", mode="rearm"))
    rig.candles(*(candle(i, 100.0, volume=100) for i in range(4)))  # the first is the baseline
    rig.candles(candle(4, 100.0, volume=199, closed=False))  # forming: never read
    assert rig.fired == []
    rig.candles(candle(4, 100.0, volume=200))  # exactly 2 x 100
    rig.candles(candle(4, 100.0, volume=300))  # a correction of the same period: judged already
    assert rig.values == [200.0]
    rig.candles(candle(5, 100.0, volume=100), candle(6, 100.0, volume=900))
    assert rig.values == [200.0, 900.0]


def test_volume_with_too_little_history_does_not_fire() -> None:
    rig = Rig(rule("volume above 2 x 10"))
    rig.candles(*(candle(i, 100.0, volume=100 if i < 3 else 10_000) for i in range(5)))
    assert rig.fired == []


def test_a_backfilled_crossing_during_an_outage_fires_once_offline_with_the_candle_time() -> None:
    rig = Rig(rule("price above 354.5"))
    rig.closes(350.0)
    rig.prices(350.0)
    rig.feed.set_connection(ConnectionState.RECONNECTING)
    rig.feed.set_connection(ConnectionState.LIVE)
    rig.clock.advance(200)
    rig.prices(356.0)  # live again before the gap fill: held until the backfill is in
    assert rig.fired == []
    rig.backfill(candle(1, 353.0, high=355.0, low=351.0), candle(2, 356.0, high=357.0, low=353.0))
    assert [(f.value, f.time, f.offline) for f in rig.fired] == [(355.0, T0 + 60, True)]
    rig.prices(357.0, 358.0)
    assert len(rig.fired) == 1


def test_the_backfill_of_a_period_already_seen_does_not_fire() -> None:
    rig = Rig(rule("close above 100"))
    rig.closes(99.0, 101.0)
    rig.feed.set_connection(ConnectionState.RECONNECTING)
    rig.backfill(candle(1, 101.0, volume=120))  # the gap fill starts a period early
    rig.feed.set_connection(ConnectionState.LIVE)
    rig.feed.notify()
    assert rig.values == [101.0] and rig.fired[0].offline is False


def test_a_reconnect_without_a_crossing_fires_nothing_and_releases_live_prices() -> None:
    rig = Rig(rule("price above 354.5"))
    rig.prices(350.0)
    rig.feed.set_connection(ConnectionState.STALE)
    rig.feed.set_connection(ConnectionState.LIVE)
    rig.backfill(candle(1, 351.0))
    assert rig.fired == []
    rig.clock.advance(100)
    rig.prices(355.0)  # the hold is over: live prices fire live
    assert [f.offline for f in rig.fired] == [False]


def test_the_initial_history_of_a_new_rule_is_no_crossing() -> None:
    rig = Rig(rule("close above 100"), history=False)
    rig.backfill(*(candle(i, 90.0 + 5 * i) for i in range(5)))  # 90 … 110, crossing at 100
    assert rig.fired == []


def test_a_disarmed_rule_does_not_fire_until_armed() -> None:
    rig = Rig(rule("price above 100", mode="rearm", hysteresis=0))
    assert rig.engine.disarm("SBER_TQBR-price-above-100") and not rig.engine.arm("nope")
    rig.prices(99.0, 101.0)
    assert rig.fired == []
    rig.engine.arm("SBER_TQBR-price-above-100")
    rig.prices(99.0, 101.0)
    (status,) = rig.engine.statuses(WatchKey("SBER_TQBR", Interval.M1))
    assert rig.engine.statuses(WatchKey("SBER_TQBR", Interval.M5)) == []
    assert rig.values == [101.0] and status.armed and status.fired == 1 and status.resolved
    assert status.last is not None and status.last.value == 101.0


def test_a_failing_listener_is_logged_and_the_others_still_hear() -> None:
    rig = Rig(rule("price above 100"))

    def broken(_fired: AlertFired) -> None:
        raise RuntimeError("boom")

    heard: list[AlertFired] = []
    rig.engine._listeners.insert(0, broken)
    rig.engine.add_listener(heard.append)
    with capture_logs() as logs:
        rig.prices(99.0, 100.0)
    assert len(heard) == 1 and len(rig.fired) == 1
    events = [entry["event"] for entry in logs]
    assert "alert_listener_failed" in events and "alert_fired" in events
    fired_log = next(entry for entry in logs if entry["event"] == "alert_fired")
    assert fired_log["rule"] == "SBER_TQBR-price-above-100" and fired_log["value"] == 100.0


def test_rules_of_an_unknown_instrument_wait_unresolved() -> None:
    from monitor.alerts import make_rule

    rig = Rig(make_rule("NOPE_TQBR", "price above 1", Interval.M1))
    rig.prices(0.5, 2.0)
    assert rig.fired == [] and rig.engine.statuses()[0].resolved is False


def test_live_prices_held_after_a_reconnect_are_released_when_no_backfill_comes() -> None:
    from monitor.alerts.engine import HOLD_MAX_S

    rig = Rig(rule("price above 354.5"))
    rig.prices(350.0)
    rig.feed.set_connection(ConnectionState.RECONNECTING)
    rig.feed.set_connection(ConnectionState.LIVE)
    rig.clock.advance(10)
    rig.prices(355.0)
    assert rig.fired == []  # held: a gap fill may still bring the crossing with its own time
    rig.wall += HOLD_MAX_S
    rig.feed.notify()
    assert [(f.value, f.offline) for f in rig.fired] == [(355.0, False)]


def test_recent_keeps_this_runs_fires_in_order() -> None:
    rig = Rig(rule("price above 100", mode="rearm", hysteresis=0), rule("price below 90"))
    rig.prices(95.0, 100.0, 99.0, 101.0, 89.0)
    assert [(f.rule.when, f.value) for f in rig.engine.recent] == [
        ("price above 100", 100.0), ("price above 100", 101.0), ("price below 90", 89.0)
    ]  # fmt: skip
