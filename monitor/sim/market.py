"""The simulated market: candles of every interval, corrections and last prices at any sim time."""

from __future__ import annotations

from bisect import bisect_left
from functools import lru_cache

from monitor.market import Candle, HistoryInterval, Interval, Origin, SecondsInterval
from monitor.sim.bars import LAST_TRADE_S, Bar, Correction, DayMinutes, MinutePath, merge, path_price
from monitor.sim.catalogue import Catalogue, SimInstrument
from monitor.sim.prices import PriceModel
from monitor.sim.sessions import NORMAL, Sessions

DAY = 86_400
DAY_CACHE = 1024
"""Instrument-days of minute candles kept (~0.8 MB each): each instrument a stream serves needs its
current day on every tick, so this bounds how many instruments the streams can serve cheaply."""
MINUTE_CACHE = 4096
"""Instrument-minutes of last-price shape kept (~0.2 KB each): a few minutes of the whole catalogue."""
CORRECTION_DELAY = 5.0  # sim seconds between a preliminary closing candle and its correction


class Market:
    """Pure function of (seed, instrument, sim time): a restarted sim serves the same history.

    A period's candle as of time t: forming (t before its end) is the aggregate of the closed
    minutes plus the current minute so far; closed is the aggregate of its minutes, except that
    within CORRECTION_DELAY after the end a period whose last minute is a "correction minute"
    still shows that minute's preliminary close and volume.
    """

    def __init__(self, catalogue: Catalogue, seed: int, sessions: Sessions) -> None:
        self.catalogue = catalogue
        self.seed = seed
        self.sessions = sessions
        self._models: dict[str, PriceModel] = {}  # made on first use: most instruments are never asked for
        # A day of minutes per instrument a stream serves must stay cached, or every tick rebuilds it.
        self.day_minutes = lru_cache(maxsize=DAY_CACHE)(self._day_minutes)
        self._day_bar = lru_cache(maxsize=16_384)(self._compute_day_bar)
        self._trading = lru_cache(maxsize=16)(self._trading_minutes)
        # A stream asks each last-price subscription's minute on every tick: keep a few minutes of all.
        self._minute = lru_cache(maxsize=MINUTE_CACHE)(self._minute_of)

    def _model(self, uid: str) -> PriceModel:
        model = self._models.get(uid)
        if model is None:
            i = self.catalogue.by_uid(uid)
            if i is None:
                raise KeyError(uid)
            model = self._models[uid] = PriceModel(self.seed, uid, i.base_ticks, i.daily_vol, i.day_volume)
        return model

    def _day_minutes(self, uid: str, day: int) -> DayMinutes:
        return self._model(uid).minutes(day, self.sessions.trading_minutes(day))

    def _compute_day_bar(self, uid: str, day: int) -> Bar | None:
        if not self.sessions.enabled:
            return self._model(uid).day_bar(day)
        minutes = self.day_minutes(uid, day)
        return minutes.aggregate(0, len(minutes.index))

    def _range(self, uid: str, start: int, end: int) -> Bar | None:
        """Final aggregate of the closed minutes in [start, end) (both minute-aligned epoch seconds)."""
        bars: list[Bar] = []
        at = start
        while at < end:
            day = at // DAY
            day_end = min(end, (day + 1) * DAY)
            if at == day * DAY and day_end == (day + 1) * DAY:
                whole = self._day_bar(uid, day)
                if whole is not None:
                    bars.append(whole)
            else:
                minutes = self.day_minutes(uid, day)
                lo = _position(minutes, (at - day * DAY) // 60)
                hi = _position(minutes, (day_end - day * DAY) // 60)
                part = minutes.aggregate(lo, hi)
                if part is not None:
                    bars.append(part)
            at = day_end
        return merge(bars)

    def candle(
        self, uid: str, interval: HistoryInterval, start: int, as_of: float
    ) -> tuple[Bar, bool] | None:
        """The candle of the period starting at `start` as of `as_of`: (bar, closed), or None if none yet."""
        if as_of < start:
            return None
        if isinstance(interval, SecondsInterval):
            return self._seconds_candle(uid, interval, start, as_of)
        end = interval.next_start(start)
        if as_of >= end:
            bar = self._range(uid, start, end)
            if bar is None:
                return None
            fix = self._last_minute_correction(uid, end) if as_of < end + CORRECTION_DELAY else None
            if fix is not None:
                bar = Bar(bar.open, bar.high, bar.low, bar.close + fix.close, bar.volume - fix.volume,
                          bar.volume_buy - fix.volume_buy, bar.last_trade)  # fmt: skip
            return bar, True
        minute = int(as_of) // 60 * 60
        closed = self._range(uid, start, minute)
        day = minute // DAY
        partial = self.day_minutes(uid, day).partial(
            (minute - day * DAY) // 60, (as_of - minute) / 60.0, as_of
        )
        bars = [b for b in (closed, partial) if b is not None]
        merged = merge(bars)
        return (merged, False) if merged is not None else None

    def _seconds_candle(
        self, uid: str, interval: SecondsInterval, start: int, as_of: float
    ) -> tuple[Bar, bool] | None:
        """A piece of the minute it falls in, cut from that minute's price path (DayMinutes.span), so
        pieces that tile a minute aggregate to its final candle. A piece without trades has no candle;
        pieces are final at once (the preliminary close of a corrected minute is not modelled here)."""
        minute = start // 60 * 60
        day = minute // DAY
        minutes = self.day_minutes(uid, day)
        p = minutes.position.get((minute - day * DAY) // 60)
        if p is None:
            return None
        end = start + interval.seconds
        closed = as_of >= end
        upto = end if closed else as_of
        bar = minutes.span(p, (start - minute) / 60, (upto - minute) / 60, end - 1.0 if closed else as_of)
        return (bar, closed) if bar.volume > 0 else None

    def correction_time(self, uid: str, interval: Interval, start: int) -> float | None:
        """When the period's closing candle gets corrected, if it does."""
        end = interval.next_start(start)
        return end + CORRECTION_DELAY if self.has_correction(uid, end) else None

    def _last_minute_correction(self, uid: str, end: int) -> Correction | None:
        if not self.has_correction(uid, end):
            return None
        minute = end - 60
        day = minute // DAY
        return self.day_minutes(uid, day).corrections.get((minute - day * DAY) // 60)

    def has_correction(self, uid: str, end: int) -> bool:
        """Whether the minute ending at `end` traded and gets corrected (cheap: no minute candles)."""
        minute = end - 60
        return self._model(uid).is_corrected(minute // 60) and self.sessions.status(minute) == NORMAL

    def last_price(self, uid: str, t: float) -> tuple[int, float] | None:
        """(ticks, trade time) of the last trade at or before t, looking back up to a week.

        Made from the one minute it falls in (`PriceModel.minute_at`), never from a day of minute
        candles, so every instrument's price at once stays cheap (GetLastPrices without ids); it is
        bit for bit the close of the forming candle at t, or of the last closed one. None before the
        instrument's first candle (a future not trading yet), as GetCandles has no candle then.
        """
        found = self._last_trade(uid, t)
        return found if found is not None and found[1] >= self._first_minute(uid) else None

    def _first_minute(self, uid: str) -> int:
        item = self.catalogue.by_uid(uid)
        return item.first_1min if item is not None else 0

    def _last_trade(self, uid: str, t: float) -> tuple[int, float] | None:
        model = self._model(uid)
        minute = int(t) // 60 * 60
        day = minute // DAY
        of_day = (minute - day * DAY) // 60
        trading = self._trading(day)
        if trading is None or of_day in trading[1]:
            o, c, turn1, turn2 = self._minute(uid, day, of_day)
            return round(path_price(o, c, turn1, turn2, (t - minute) / 60.0)), t
        for back in range(8):
            found = self._trading(day - back)
            index = found[0] if found is not None else range(1440)
            p = bisect_left(index, of_day if back == 0 else 1440)
            if p > 0:  # the last trade was the end of that day's last trading minute before t
                last = index[p - 1]
                return model.path_at(day - back, last + 1), (day - back) * DAY + last * 60 + LAST_TRADE_S
        return None

    def _minute_of(self, uid: str, day: int, of_day: int) -> MinutePath:
        return self._model(uid).minute_at(day, of_day)

    def _trading_minutes(self, day: int) -> tuple[list[int], frozenset[int]] | None:
        """The day's trading minutes, listed and as a set; None when every minute trades."""
        minutes = self.sessions.trading_minutes(day)
        return None if minutes is None else (minutes, frozenset(minutes))

    def periods(self, interval: HistoryInterval, start: int, end: int) -> list[int]:
        """Starts of the periods from the one containing `start` up to those starting before `end`."""
        return interval.periods(interval.start_of(start), end)

    def history(
        self, item: SimInstrument, interval: HistoryInterval, start: int, end: int, as_of: float
    ) -> list[Candle]:
        """Closed candles of periods starting in [start_of(start), end), as known at `as_of`."""
        result = []
        for at in self.periods(interval, start, end):
            if interval.next_start(at) > as_of:
                break
            found = self.candle(item.uid, interval, at, as_of)
            if found is not None:
                result.append(to_candle(item, at, found[0], closed=True))
        return result


def _position(minutes: DayMinutes, minute: int) -> int:
    """How many trading minutes of the day come before minute-of-day `minute`."""
    return bisect_left(minutes.index, minute)


def price_float(item: SimInstrument, ticks: int) -> float:
    """A price as the client computes it from a Quotation (units + nano / 1e9), bit for bit."""
    units, nano = price_parts(item, ticks)
    return units + nano / 1_000_000_000


def price_parts(item: SimInstrument, ticks: int) -> tuple[int, int]:
    """(units, nano) of a positive price in ticks."""
    step_nano = int(item.instrument.price_step * 1_000_000_000)
    return divmod(ticks * step_nano, 1_000_000_000)


def to_candle(item: SimInstrument, start: int, bar: Bar, *, closed: bool) -> Candle:
    return Candle(
        time=start,
        open=price_float(item, bar.open),
        high=price_float(item, bar.high),
        low=price_float(item, bar.low),
        close=price_float(item, bar.close),
        volume=bar.volume,
        closed=closed,
        origin=Origin.BACKFILL,
    )
