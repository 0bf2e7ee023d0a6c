"""`monitor chart ID`: a static plotext candle chart of recent history, printed to stdout."""

from __future__ import annotations

import argparse
import asyncio
import datetime
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from monitor.cli import demo
from monitor.cli.common import (
    add_connection_arguments,
    fetch_or_exit_status,
    history_source,
    interval_arg,
    settings_from_args,
    silence,
)
from monitor.exits import EXIT_FAILED, EXIT_OK
from monitor.feed import FeedConfig
from monitor.market import Candle, Instrument, Interval

if TYPE_CHECKING:
    from monitor.ui.render.base import ChartStyle

NOT_A_TTY_SIZE = (100, 30)
"""Width and height when stdout is not a terminal (pipes, files, tests)."""
MIN_SIZE = (20, 5)
MAX_SIZE = (2_000, 1_000)
MAX_COUNT = 5_000
"""Most candles one chart fetches (the settings' history_candles limit)."""


def _bounded(limit: int) -> Callable[[str], int]:
    """An argparse `type`: a whole number in 1..limit (a huge --width would allocate a huge chart)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not 1 <= value <= limit:
            raise argparse.ArgumentTypeError(f"must be 1..{limit}, not {value}")
        return value

    return parse


def add_parser(subparsers: Any) -> None:
    """Registers `monitor chart ID [--interval 1h] [--width W] [--height H] [--count N]`."""
    parser = subparsers.add_parser(
        "chart",
        help="print a static candle chart of recent history",
        description="Fetch recent closed candles with GetCandles and print them as a chart. "
        "With no token, charts the built-in simulator.",
    )
    parser.add_argument("id", metavar="ID", help="instrument: TICKER_CLASSCODE, FIGI or uid")
    parser.add_argument(
        "--interval", type=interval_arg, default=Interval.H1, metavar="INTERVAL", help="1h (default), 1d…"
    )
    parser.add_argument(
        "--width", type=_bounded(MAX_SIZE[0]), metavar="W", help="columns (default: the terminal's)"
    )
    parser.add_argument(
        "--height", type=_bounded(MAX_SIZE[1]), metavar="H", help="rows (default: the terminal's)"
    )
    parser.add_argument(
        "--count", type=_bounded(MAX_COUNT), metavar="N", help="candles to fetch (default: what fits)"
    )
    add_connection_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Fetches and prints the chart; 0 on success, 1 (with one line on stderr) on failure."""
    return asyncio.run(chart(args))


def chart_size(
    width: int | None, height: int | None, stream: TextIO, fallback: tuple[int, int] = NOT_A_TTY_SIZE
) -> tuple[int, int]:
    """The flags, else the terminal's size when `stream` is a TTY, else `fallback`, never below 20x5."""
    if width is None or height is None:
        tty = stream.isatty() if hasattr(stream, "isatty") else False
        columns, lines = shutil.get_terminal_size(fallback) if tty else fallback
        # One line less than the terminal, so the shell prompt does not scroll the title away.
        width = columns if width is None else width
        height = max(1, lines - 1) if height is None and tty else (lines if height is None else height)
    return max(MIN_SIZE[0], width), max(MIN_SIZE[1], height)


async def chart(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """The command body; `out`/`err` default to stdout/stderr (tests pass buffers)."""
    # Imported here: `monitor --help` builds every command's parser and must not load grpc or Textual.
    from rich.text import Text

    from monitor.ui.render.base import ChartStyle
    from monitor.ui.times import timezone_for

    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    settings, _ = settings_from_args(args)
    width, height = chart_size(args.width, args.height, out)
    count = args.count or max(1, (width - 12) // 2)
    async with demo.feed_config(settings) as config:
        if config.mode == "DEMO":
            print(f"monitor: no token: charting the built-in simulator at {config.endpoint}", file=err)
        fetched = await fetch_or_exit_status(
            fetch(config, args.id, args.interval, count), err, unknown_id_status=EXIT_FAILED
        )
    if isinstance(fetched, int):
        return fetched  # said on err
    instrument, candles = fetched
    tz = timezone_for(settings.ui.timezone)
    style = ChartStyle(up=settings.ui.up_color, down=settings.ui.down_color)
    text = chart_text(instrument, candles, args.interval, tz, width, height, style)
    color = out.isatty() if hasattr(out, "isatty") else False
    try:
        out.write(text if color else Text.from_ansi(text).plain)
        out.write("\n")
        out.flush()
    except BrokenPipeError:
        silence(sys.stdout)  # `monitor chart … | head` closed the pipe early: not an error
    return EXIT_OK


async def fetch(
    config: FeedConfig, watch_id: str, interval: Interval, count: int
) -> tuple[Instrument, list[Candle]]:
    """Resolves `watch_id` (GetInstrumentBy) and fetches its last `count` closed candles (GetCandles).

    Raises:
        InstrumentError: the id is malformed or not found.
        HistoryError, grpc.aio.AioRpcError: the API refused or could not be reached.
    """
    from monitor.clock import SystemClock

    async with history_source(config, watch_id, clock=SystemClock()) as (instrument, history):
        return instrument, await history.recent(instrument.uid, interval, count)


def zone_label(tz: datetime.tzinfo, at: float | None = None) -> str:
    """`Europe/Moscow (MSK)` for a named zone, else its abbreviation (`UTC`, `+05`)."""
    from monitor.ui.render.scale import tz_name

    moment = int(time.time() if at is None else at)
    short = tz_name(moment, tz)
    key = getattr(tz, "key", None)
    return f"{key} ({short})" if isinstance(key, str) and key != short else short


def chart_text(
    instrument: Instrument,
    candles: Sequence[Candle],
    interval: Interval,
    tz: datetime.tzinfo,
    width: int,
    height: int,
    style: ChartStyle,
) -> str:
    """The chart as ANSI text: a plotext figure titled with the ticker, interval and time zone."""
    from monitor.ui.render.base import ChartInput
    from monitor.ui.render.plotext_renderer import build_chart

    at = candles[-1].time if candles else None
    title = f"{instrument.ticker} ({instrument.symbol}) · {interval.code} · {zone_label(tz, at)}"
    if not candles:
        return f"{title}\nno closed candles in the recent history"
    data = ChartInput(
        candles=candles,
        interval=interval,
        last_price=candles[-1].close,
        price_step=float(instrument.price_step) if instrument.price_step > 0 else None,
        tz=tz,
        show_volume=False,
    )
    built = build_chart(data, width, height, style, title=title)
    return title if built is None else built
