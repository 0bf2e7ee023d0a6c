"""The simulator's instruments: real MOEX names with their API ids, and how requests resolve them."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property

from monitor.market import Instrument
from monitor.pb import common_pb2

_FAKE_NS = uuid.UUID("6f1d7f52-3c55-4a57-9a44-5b6f3f4f0b11")
FIRST_CANDLE = 1_520_380_800  # 2018-03-07: where the hand-written instruments claim history starts


def fake_uid(ticker: str) -> str:
    """A stable made-up instrument_uid (uuid5 of the ticker) for instruments whose real uid we lack."""
    return str(uuid.uuid5(_FAKE_NS, ticker))


@dataclass(frozen=True, slots=True)
class Terms:
    """What only some kinds have: a bond's maturity and nominal, a future's expiry and asset, ..."""

    nominal: Decimal | None = None  # in the instrument's currency (a currency's: 1 of itself)
    maturity: int | None = None  # epoch seconds: a bond's maturity, a future's expiration
    first_trade: int | None = None  # a future's first trading day
    coupons_per_year: int = 0
    basic_asset: str = ""  # a future's underlying; a currency's ISO name
    focus_type: str = ""  # an ETF's focus ("equity", "fixed_income", ...)


@dataclass(frozen=True, slots=True)
class SimInstrument:
    """An instrument plus what the simulator needs to make up its market."""

    instrument: Instrument
    isin: str
    kind: int  # common_pb2.InstrumentType
    base_price: Decimal  # the level the long-run random walk keeps returning to
    daily_vol: float  # typical daily move as a fraction of the price
    day_volume: int  # typical lots traded in a day
    api_tradable: bool = True  # False: listed by INSTRUMENT_STATUS_ALL only, hidden from BASE
    first_1min: int = FIRST_CANDLE  # epoch seconds of the first minute candle
    first_1day: int = FIRST_CANDLE  # epoch seconds of the first day candle
    terms: Terms = Terms()

    @property
    def position_uid(self) -> str:
        """A stable position uid derived from the uid (the API's is another made-up UUID)."""
        return str(uuid.uuid5(uuid.NAMESPACE_OID, self.uid))

    @property
    def uid(self) -> str:
        return self.instrument.uid

    @property
    def base_ticks(self) -> int:
        """The base price in price steps."""
        return int(self.base_price / self.instrument.price_step)


def _make(
    ticker: str,
    class_code: str,
    name: str,
    figi: str,
    uid: str | None,
    lot: int,
    step: str,
    isin: str,
    kind: int,
    price: str,
    vol: float,
    volume: int,
    currency: str = "rub",
) -> SimInstrument:
    kind_name: str = {
        common_pb2.INSTRUMENT_TYPE_SHARE: "share",
        common_pb2.INSTRUMENT_TYPE_BOND: "bond",
        common_pb2.INSTRUMENT_TYPE_ETF: "etf",
        common_pb2.INSTRUMENT_TYPE_FUTURES: "futures",
        common_pb2.INSTRUMENT_TYPE_CURRENCY: "currency",
    }[kind]  # type: ignore[index]
    instrument = Instrument(
        uid=uid or fake_uid(ticker),
        figi=figi,
        ticker=ticker,
        class_code=class_code,
        name=name,
        lot=lot,
        price_step=Decimal(step),
        kind=kind_name,
        currency=currency,
    )
    return SimInstrument(instrument, isin, kind, Decimal(price), vol, volume)


_SHARE = common_pb2.INSTRUMENT_TYPE_SHARE

# The first five rows are the demo watchlist of tinvest-contract.md §6 with their real ids, lots and
# steps. Rows with `uid=None` get a stable fake uid (uuid5 of the ticker): we do not know their real
# uids. FIGIs and ISINs of the other shares are the real ones as far as we know; those of the bond,
# ETF, future and the newer tickers (YDEX, T) are placeholders in the real format. Prices are rough
# 2025 levels, only there to make the demo look plausible.
CATALOGUE: tuple[SimInstrument, ...] = (
    _make("SBER", "TQBR", "Сбер Банк", "BBG004730N88", "e6123145-9665-43e0-8413-cd61b8aa9b13",
          10, "0.01", "RU0009029540", _SHARE, "300", 0.015, 40_000_000),
    _make("GAZP", "TQBR", "Газпром", "BBG004730RP0", "962e2a95-02a9-4171-abd7-aa198dbe643a",
          10, "0.01", "RU0007661625", _SHARE, "130", 0.018, 30_000_000),
    _make("LKOH", "TQBR", "ЛУКОЙЛ", "BBG004731032", "02cfdf61-6298-4c0f-a9ca-9cabc82afaf3",
          1, "0.5", "RU0009024277", _SHARE, "6500", 0.014, 600_000),
    _make("ROSN", "TQBR", "Роснефть", "BBG004731354", "fd417230-19cf-4e7b-9623-f7c9ca18ec6b",
          1, "0.05", "RU000A0J2Q06", _SHARE, "450", 0.016, 3_000_000),
    _make("NVTK", "TQBR", "НОВАТЭК", "BBG00475KKY8", "0da66728-6c30-44c4-9264-df8fac2467ee",
          1, "0.2", "RU000A0DKVS5", _SHARE, "1100", 0.017, 1_500_000),
    _make("YDEX", "TQBR", "Яндекс", "TCS00A107T19", None,
          1, "0.5", "RU000A107T19", _SHARE, "4000", 0.02, 500_000),
    _make("GMKN", "TQBR", "Норильский никель", "BBG004731489", None,
          10, "0.02", "RU0007288411", _SHARE, "120", 0.016, 5_000_000),
    _make("MGNT", "TQBR", "Магнит", "BBG004RVFCY3", None,
          1, "0.5", "RU000A0JKQU8", _SHARE, "4500", 0.018, 200_000),
    _make("T", "TQBR", "Т-Технологии", "TCS80A107UL4", None,
          1, "0.2", "RU000A107UL4", _SHARE, "3000", 0.022, 400_000),
    _make("VTBR", "TQBR", "Банк ВТБ", "BBG004730ZJ9", None,
          1, "0.01", "RU000A0JP5V6", _SHARE, "75", 0.02, 20_000_000),
    _make("MOEX", "TQBR", "Московская Биржа", "BBG004730JJ5", None,
          10, "0.01", "RU000A0JR4A1", _SHARE, "180", 0.015, 2_000_000),
    _make("AFLT", "TQBR", "Аэрофлот", "BBG004S683W7", None,
          10, "0.01", "RU0009062285", _SHARE, "60", 0.02, 10_000_000),
    _make("SU26238RMFS4", "TQOB", "ОФЗ 26238", "BBG011FJ4HS6", None,
          1, "0.001", "SU26238RMFS4", common_pb2.INSTRUMENT_TYPE_BOND, "60", 0.004, 500_000),
    _make("TMOS", "TQTF", "Т-Капитал Индекс МосБиржи", "TCS60A101X76", None,
          1, "0.01", "RU000A101X76", common_pb2.INSTRUMENT_TYPE_ETF, "6.5", 0.012, 50_000_000),
    _make("SiZ6", "SPBFUT", "Si-12.26 Курс доллар - рубль", "FUTSI1226000", None,
          1, "1", "", common_pb2.INSTRUMENT_TYPE_FUTURES, "92000", 0.008, 800_000),
    _make("USD000UTSTOM", "CETS", "Доллар США", "BBG0013HGFT4", None,
          1, "0.0025", "", common_pb2.INSTRUMENT_TYPE_CURRENCY, "90", 0.007, 5_000_000),
)  # fmt: skip


class Catalogue:
    """Looks instruments up the way the API does.

    `instruments` may be a function that makes them: the catalogue is then built on first use, so
    a simulator with a thousand generated instruments starts as fast as one with sixteen.
    """

    def __init__(
        self, instruments: Iterable[SimInstrument] | Callable[[], Iterable[SimInstrument]] = CATALOGUE
    ) -> None:
        self._source = instruments

    @cached_property
    def items(self) -> tuple[SimInstrument, ...]:
        source = self._source
        return tuple(source() if callable(source) else source)

    @cached_property
    def _by_uid(self) -> dict[str, SimInstrument]:
        return {i.uid: i for i in self.items}

    @cached_property
    def _by_figi(self) -> dict[str, SimInstrument]:
        return {i.instrument.figi: i for i in self.items}

    @cached_property
    def _by_symbol(self) -> dict[str, SimInstrument]:
        return {i.instrument.symbol.upper(): i for i in self.items}

    @cached_property
    def _by_kind(self) -> dict[int, list[SimInstrument]]:
        kinds: dict[int, list[SimInstrument]] = {}
        for item in self.items:
            kinds.setdefault(item.kind, []).append(item)
        return kinds

    def __iter__(self) -> Iterator[SimInstrument]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def resolve(self, instrument_id: str) -> SimInstrument | None:
        """An `instrument_id` as streams and GetCandles take it: uid, then FIGI, then TICKER_CLASSCODE."""
        return (
            self._by_uid.get(instrument_id)
            or self._by_figi.get(instrument_id)
            or self._by_symbol.get(instrument_id.upper())
        )

    def by_uid(self, uid: str) -> SimInstrument | None:
        return self._by_uid.get(uid)

    def by_figi(self, figi: str) -> SimInstrument | None:
        return self._by_figi.get(figi)

    def by_ticker(self, ticker: str, class_code: str) -> SimInstrument | None:
        return self._by_symbol.get(f"{ticker}_{class_code}".upper())

    def of_kind(self, kind: int, *, tradable_only: bool = True) -> list[SimInstrument]:
        """A bulk listing (Shares, Bonds, ...): every instrument of `kind`, or only the API-tradable
        ones (INSTRUMENT_STATUS_BASE, the default), in catalogue order."""
        items = self._by_kind.get(kind, [])
        return [i for i in items if i.api_tradable] if tradable_only else list(items)

    def find(
        self, query: str, kind: int | None = None, *, tradable_only: bool = False
    ) -> list[SimInstrument]:
        """FindInstrument: a case-insensitive substring of position_uid, uid, figi, isin, ticker or name."""
        needle = query.casefold()
        found = []
        for item in self.items:
            if (kind is not None and item.kind != kind) or (tradable_only and not item.api_tradable):
                continue
            i = item.instrument
            fields = (i.uid, i.figi, item.isin, i.ticker, i.name, item.position_uid)
            if any(needle in f.casefold() for f in fields):
                found.append(item)
        return found
