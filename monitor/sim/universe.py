"""The generated part of the catalogue: a thousand made-up instruments of every kind, from the seed."""

# Everything here is a pure function of the seed: equal seeds give equal instruments, ids included,
# so a restarted simulator serves the same catalogue and a watchlist of generated ids keeps working.
# The ids have the real formats (ISIN and FIGI with their check digits, uuid4-shaped uids), the
# names are Russian-looking inventions, and none collides with a hand-written instrument.

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from monitor.market import Instrument
from monitor.pb import common_pb2
from monitor.sim.catalogue import FIRST_CANDLE, SimInstrument, Terms

GENERATED = 1000
"""How many instruments the simulator adds to the hand-written ones by default."""

# Shares of each kind in the generated set (what a broker's lists look like, roughly).
_MIX = (
    (common_pb2.INSTRUMENT_TYPE_SHARE, 0.40),
    (common_pb2.INSTRUMENT_TYPE_BOND, 0.30),
    (common_pb2.INSTRUMENT_TYPE_ETF, 0.15),
    (common_pb2.INSTRUMENT_TYPE_FUTURES, 0.10),
    (common_pb2.INSTRUMENT_TYPE_CURRENCY, 0.05),
)
_KIND_NAMES: dict[int, str] = {
    common_pb2.INSTRUMENT_TYPE_SHARE: "share", common_pb2.INSTRUMENT_TYPE_BOND: "bond",
    common_pb2.INSTRUMENT_TYPE_ETF: "etf", common_pb2.INSTRUMENT_TYPE_FUTURES: "futures",
    common_pb2.INSTRUMENT_TYPE_CURRENCY: "currency",
}  # fmt: skip
_NOT_TRADABLE = 0.05  # the fraction the API lists only under INSTRUMENT_STATUS_ALL
_PREFIXES = ("Сиб", "Урал", "Волга", "Промо", "Техно", "Агро", "Энерго", "Нефте", "Газо", "Мета", "Транс",
             "Строй", "Фарм", "Инвест", "Север", "Балт", "Дальн", "Кам", "Байкал", "Алтай")  # fmt: skip
_SUFFIXES = ("нефть", "банк", "энерго", "сталь", "хим", "транс", "строй", "телеком", "фарм", "ресурс",
             "тех", "маш", "агро", "лес", "золото", "порт")  # fmt: skip
_MANAGERS = ("Т-Капитал", "Первая", "ВИМ", "Альфа-Капитал", "Райффайзен", "Арсагера", "Финам")
_FOCUS = (("Индекс МосБиржи", "equity"), ("Облигации", "fixed_income"), ("Золото", "commodity"),
          ("Денежный рынок", "money_market"), ("Дивидендные акции", "equity"), ("Юань", "currency"),
          ("Технологии", "equity"), ("Длинные ОФЗ", "fixed_income"))  # fmt: skip
# Futures underlyings: code, name, price level, price step.
_ASSETS = (
    ("Si", "Курс доллар - рубль", "92000", "1"), ("Eu", "Курс евро - рубль", "100000", "1"),
    ("CR", "Курс юань - рубль", "12.5", "0.001"), ("RI", "Индекс РТС", "110000", "10"),
    ("MX", "Индекс МосБиржи", "3000", "0.05"), ("BR", "Нефть Brent", "75", "0.01"),
    ("NG", "Природный газ", "3", "0.001"), ("GD", "Золото", "2400", "0.1"),
    ("SV", "Серебро", "30", "0.01"), ("SR", "Сбербанк", "30000", "1"), ("GZ", "Газпром", "13000", "1"),
    ("LK", "ЛУКОЙЛ", "6500", "1"), ("RN", "Роснефть", "45000", "1"), ("VB", "ВТБ", "7500", "1"),
    ("YD", "Яндекс", "4000", "1"), ("PT", "Платина", "1000", "0.1"), ("ED", "Курс евро - доллар", "1.08",
    "0.0001"), ("MM", "Индекс МосБиржи (мини)", "3000", "0.05"), ("AF", "Аэрофлот", "6000", "1"),
    ("MG", "Магнит", "4500", "1"), ("NM", "НЛМК", "1700", "1"), ("AL", "Алюминий", "2300", "1"),
    ("CU", "Медь", "9000", "1"), ("W4", "Пшеница", "250", "0.1"), ("SA", "Сахар", "500", "0.1"),
)  # fmt: skip
_MONTHS = (("H", 3), ("M", 6), ("U", 9), ("Z", 12))
# Currencies against the rouble: ISO code, name, price level, price step.
_CURRENCIES = (
    ("EUR", "Евро", "100", "0.0025"), ("CNY", "Юань", "12.5", "0.0005"), ("HKD", "Гонконгский доллар", "11.5",
    "0.001"), ("TRY", "Турецкая лира", "2.5", "0.0005"), ("KZT", "Казахстанский тенге", "0.18", "0.00001"),
    ("BYN", "Белорусский рубль", "28", "0.001"), ("AMD", "Армянский драм", "0.23", "0.00001"),
    ("GBP", "Фунт стерлингов", "115", "0.0025"), ("CHF", "Швейцарский франк", "100", "0.0025"),
    ("JPY", "Японская иена", "0.6", "0.0001"), ("AED", "Дирхам ОАЭ", "25", "0.001"),
    ("INR", "Индийская рупия", "1.1", "0.0001"), ("UZS", "Узбекский сум", "0.0072", "0.000001"),
    ("KGS", "Киргизский сом", "1.05", "0.0001"), ("TJS", "Таджикский сомони", "8.5", "0.001"),
    ("ZAR", "Южноафриканский рэнд", "5", "0.0005"), ("SGD", "Сингапурский доллар", "68", "0.001"),
    ("SEK", "Шведская крона", "8.7", "0.0005"), ("NOK", "Норвежская крона", "8.5", "0.0005"),
    ("CZK", "Чешская крона", "4", "0.0005"), ("PLN", "Польский злотый", "23", "0.001"),
    ("HUF", "Венгерский форинт", "0.25", "0.00001"), ("THB", "Тайский бат", "2.6", "0.0005"),
    ("GEL", "Грузинский лари", "33", "0.001"), ("AZN", "Азербайджанский манат", "54", "0.001"),
)  # fmt: skip
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_ALNUM = "0123456789" + _LETTERS
_FIGI_CHARS = "0123456789BCDFGHJKLMNPQRSTVWXYZ"  # FIGIs have no vowels
_DAY = 86_400
_NO_TERMS = Terms()


def _char_value(c: str) -> int:
    return int(c) if c.isdigit() else ord(c) - ord("A") + 10


def isin_check(body: str) -> str:
    """The ISIN check digit of the 11 leading characters (Luhn over the letters-as-numbers digits)."""
    digits = "".join(str(_char_value(c)) for c in body)
    total = 0
    for position, d in enumerate(reversed(digits)):
        n = int(d) * (2 if position % 2 == 0 else 1)
        total += n // 10 + n % 10
    return str((10 - total % 10) % 10)


def figi_check(body: str) -> str:
    """The FIGI check digit of the 11 leading characters (every second value doubled, digits summed)."""
    total = 0
    for position, c in enumerate(body, start=1):
        n = _char_value(c) * (2 if position % 2 == 0 else 1)
        total += sum(int(d) for d in str(n))
    return str((10 - total % 10) % 10)


def _third_thursday(year: int, month: int) -> int:
    first = date(year, month, 1)
    thursday = first + timedelta(days=(3 - first.weekday()) % 7 + 14)
    return int(datetime(thursday.year, thursday.month, thursday.day, 15, tzinfo=UTC).timestamp())


class _Maker:
    """Draws unique ids from one seeded generator."""

    def __init__(self, seed: int, taken: Iterable[SimInstrument]) -> None:
        self.rng = random.Random(f"monitor.sim catalogue {seed}")
        items = list(taken)
        self.uids = {i.uid for i in items}
        self.figis = {i.instrument.figi for i in items}
        self.symbols = {i.instrument.symbol for i in items}
        self.isins = {i.isin for i in items if i.isin}

    def uid(self) -> str:
        while (uid := str(uuid.UUID(int=self.rng.getrandbits(128), version=4))) in self.uids:
            pass
        self.uids.add(uid)
        return uid

    def figi(self) -> str:
        while True:
            body = "BBG" + "".join(self.rng.choice(_FIGI_CHARS) for _ in range(8))
            figi = body + figi_check(body)
            if figi not in self.figis:
                self.figis.add(figi)
                return figi

    def isin(self, prefix: str = "RU000A") -> str:
        while True:
            body = prefix + "".join(self.rng.choice(_ALNUM) for _ in range(11 - len(prefix)))
            isin = body + isin_check(body)
            if isin not in self.isins:
                self.isins.add(isin)
                return isin

    def ticker(self, class_code: str, length: int = 4) -> str:
        while True:
            ticker = "".join(self.rng.choice(_LETTERS) for _ in range(length))
            if self.claim(ticker, class_code):
                return ticker

    def claim(self, ticker: str, class_code: str) -> bool:
        symbol = f"{ticker}_{class_code}"
        if symbol in self.symbols:
            return False
        self.symbols.add(symbol)
        return True

    def company(self) -> str:
        prefix = self.rng.choice(_PREFIXES)
        suffix = self.rng.choice([s for s in _SUFFIXES if not prefix.lower().startswith(s[:4])])
        return prefix + suffix

    def listed(self, earliest: int = 2000) -> tuple[int, int]:
        """(first 1-minute candle, first day candle): listed some day since `earliest`."""
        start = int(datetime(earliest, 1, 3, tzinfo=UTC).timestamp())
        day = (start + self.rng.randrange((FIRST_CANDLE + 6 * 365 * _DAY - start) // _DAY) * _DAY) // _DAY
        first_day = day * _DAY + 7 * 3600
        return max(first_day, FIRST_CANDLE), first_day

    def make(self, kind: int, ticker: str, class_code: str, name: str, lot: int, step: str, price: Decimal,
             vol: float, volume: int, *, isin: str = "", currency: str = "rub", terms: Terms = _NO_TERMS,
             tradable: bool | None = None, listed: tuple[int, int] | None = None,
             ) -> SimInstrument:  # fmt: skip
        step_d = Decimal(step)
        price = max(step_d * 10, (price / step_d).to_integral_value() * step_d)
        first_1min, first_1day = listed or self.listed()
        instrument = Instrument(uid=self.uid(), figi=self.figi(), ticker=ticker, class_code=class_code,
                                name=name, lot=lot, price_step=step_d, kind=_KIND_NAMES[kind],
                                currency=currency)  # fmt: skip
        api = self.rng.random() >= _NOT_TRADABLE if tradable is None else tradable
        return SimInstrument(instrument, isin, kind, price, vol, volume, api, first_1min, first_1day, terms)

    def scaled(self, low: float, high: float) -> Decimal:
        """A price level spread evenly on a log scale."""
        return Decimal(str(round(low * (high / low) ** self.rng.random(), 6)))


def _shares(m: _Maker, n: int) -> list[SimInstrument]:
    out = []
    for _ in range(n):
        price = m.scaled(0.05, 20_000)
        step = "0.0001" if price < 1 else "0.01" if price < 500 else "0.1" if price < 5000 else "1"
        lot = m.rng.choice((1, 1, 10, 10, 100, 1000)) if price < 500 else 1
        out.append(m.make(common_pb2.INSTRUMENT_TYPE_SHARE, m.ticker("TQBR"), "TQBR", m.company(), lot, step,
                          price, m.rng.uniform(0.01, 0.03), int(m.scaled(50_000, 20_000_000)),
                          isin=m.isin()))  # fmt: skip
    return out


def _bonds(m: _Maker, n: int) -> list[SimInstrument]:
    out = []
    series = m.rng.sample(range(26200, 26300), k=min(100, n // 5 + 1))
    for k in range(n):
        maturity = int(
            datetime(m.rng.randrange(2027, 2046), m.rng.randrange(1, 13), 15, tzinfo=UTC).timestamp()
        )
        if k < len(series):  # an OFZ: the ticker is its ISIN, SU<series>RMFS<check>
            body = f"SU{series[k]}RMFS"
            isin = body + isin_check(body)
            ticker, board, name, step, coupons = isin, "TQOB", f"ОФЗ {series[k]}", "0.001", 2
        else:
            isin = ticker = m.isin("RU000A1")
            board, name, step = "TQCB", f"{m.company()} БО-{m.rng.randrange(1, 40):02d}", "0.01"
            coupons = m.rng.choice((2, 4, 12))
        if not m.claim(ticker, board):
            continue
        terms = Terms(nominal=Decimal(1000), maturity=maturity, coupons_per_year=coupons)
        out.append(m.make(common_pb2.INSTRUMENT_TYPE_BOND, ticker, board, name, 1, step,
                          Decimal(str(round(m.rng.uniform(70, 104), 2))), m.rng.uniform(0.002, 0.006),
                          int(m.scaled(2_000, 200_000)), isin=isin, terms=terms))  # fmt: skip
    return out


def _etfs(m: _Maker, n: int) -> list[SimInstrument]:
    out = []
    for _ in range(n):
        focus, focus_type = m.rng.choice(_FOCUS)
        price = m.scaled(0.5, 2_000)
        currency = m.rng.choice(("rub",) * 8 + ("usd", "cny"))
        out.append(m.make(common_pb2.INSTRUMENT_TYPE_ETF, m.ticker("TQTF"), "TQTF",
                          f"{m.rng.choice(_MANAGERS)} {focus}", 1, "0.001" if price < 10 else "0.01", price,
                          m.rng.uniform(0.004, 0.015), int(m.scaled(10_000, 50_000_000)), isin=m.isin(),
                          currency=currency, terms=Terms(focus_type=focus_type)))  # fmt: skip
    return out


def _futures(m: _Maker, n: int) -> list[SimInstrument]:
    contracts = [(a, month, year) for year in (2027, 2028) for month in _MONTHS for a in _ASSETS]
    m.rng.shuffle(contracts)
    out: list[SimInstrument] = []
    for (code, asset, price, step), (letter, month), year in contracts:
        if len(out) == n:
            break
        ticker = f"{code}{letter}{year % 10}"
        if not m.claim(ticker, "SPBFUT"):
            continue  # taken by a hand-written one
        expiry = _third_thursday(year, month)
        first_trade = expiry - 365 * _DAY
        name = f"{code}-{month}.{year % 100} {asset}"
        terms = Terms(maturity=expiry, first_trade=first_trade, basic_asset=asset)
        listed = (max(first_trade, FIRST_CANDLE), first_trade)
        out.append(m.make(common_pb2.INSTRUMENT_TYPE_FUTURES, ticker, "SPBFUT", name, 1, step, Decimal(price),
                          m.rng.uniform(0.008, 0.02), int(m.scaled(20_000, 2_000_000)), terms=terms,
                          listed=listed))  # fmt: skip
    return out


def _currencies(m: _Maker, n: int) -> list[SimInstrument]:
    out: list[SimInstrument] = []
    for settle in ("TOM", "TOD"):
        for iso, name, price, step in _CURRENCIES:
            if len(out) == n:
                return out
            ticker = f"{iso}RUB_{settle}"
            m.claim(ticker, "CETS")
            terms = Terms(nominal=Decimal(1), basic_asset=iso.lower())
            full = name if settle == "TOM" else f"{name} (расчёты сегодня)"
            volume = int(m.scaled(100_000, 10_000_000))
            out.append(m.make(common_pb2.INSTRUMENT_TYPE_CURRENCY, ticker, "CETS", full, 1, step,
                              Decimal(price), m.rng.uniform(0.004, 0.01), volume, terms=terms,
                              tradable=True))  # fmt: skip
    return out


def generate(
    seed: int, count: int = GENERATED, taken: Iterable[SimInstrument] = ()
) -> tuple[SimInstrument, ...]:
    """`count` instruments in the kinds' proportions, none sharing an id or symbol with `taken`."""
    m = _Maker(seed, taken)
    quotas = [int(count * share) for _, share in _MIX]
    quotas[0] += count - sum(quotas)
    makers = (_shares, _bonds, _etfs, _futures, _currencies)
    out: list[SimInstrument] = []
    for make, quota in zip(makers, quotas, strict=True):
        out += make(m, quota)
    if len(out) < count:  # a kind ran out of distinct names (a huge count): shares make up the rest
        out += _shares(m, count - len(out))
    return tuple(out)
