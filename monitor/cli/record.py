"""`monitor record`: every server message of the market-data stream to a file, as it arrived."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from monitor import __version__
from monitor.cli import demo
from monitor.cli.common import add_connection_arguments, clock_from_args, interval_arg, settings_from_args
from monitor.clock import Clock, speed_of
from monitor.exits import EXIT_FAILED, EXIT_USAGE
from monitor.market import Interval, WatchKey

if TYPE_CHECKING:
    from monitor.feed import FeedConfig
    from monitor.recording import RecordingWriter, StopReason
    from monitor.sim import SimConfig, SimServer


def positive_int(text: str) -> int:
    """A --max-bytes value: a whole number of bytes above 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def positive_seconds(text: str) -> float:
    """A --duration value: wall seconds above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be above 0, not {text}")
    return value


def add_parser(subparsers: Any) -> None:
    """Registers `monitor record ID [ID ...] --interval 1m -o FILE [--max-bytes N] [--duration S]`."""
    parser = subparsers.add_parser(
        "record",
        help="record the market-data stream to a file (replay it with `monitor sim --replay FILE`)",
        description="Write every server message of the market-data stream for the instruments, as "
        "it arrived, until Ctrl+C, --duration or --max-bytes. With no token, records the built-in "
        "simulator.",
    )
    parser.add_argument("ids", nargs="+", metavar="ID", help="instrument: TICKER_CLASSCODE, FIGI or uid")
    parser.add_argument("--interval", type=interval_arg, default=Interval.M1, metavar="INTERVAL",
                        help="1m (default), 5m, 1h…")  # fmt: skip
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="FILE",
                        help="the recording to create (an existing file is never overwritten)")  # fmt: skip
    parser.add_argument(
        "--max-bytes", type=positive_int, metavar="N", help="stop before the file exceeds N bytes"
    )
    parser.add_argument("--duration", type=positive_seconds, metavar="S", help="stop after S wall seconds")
    add_connection_arguments(parser)
    parser.set_defaults(func=run)


def open_recording(
    path: Path,
    keys: Iterable[WatchKey],
    clock: Clock,
    *,
    max_bytes: int | None = None,
    max_seconds: float | None = None,
    on_stop: Callable[[StopReason], None] | None = None,
) -> RecordingWriter | None:
    """A writer on the new file `path` with the header for `keys`; None after saying why it cannot
    be created (on stderr: the caller exits with EXIT_USAGE)."""
    from monitor.recording import Header, RecordingWriter, Subscription

    header = Header(
        subscriptions=tuple(Subscription(key.id, key.interval.code) for key in keys),
        started_at=time.time(),
        clock_speed=speed_of(clock),
        extra={"monitor_version": __version__},
    )
    try:
        return RecordingWriter.create(
            path, header, max_bytes=max_bytes, max_seconds=max_seconds, on_stop=on_stop
        )
    except FileExistsError:
        print(f"monitor: error: {path} already exists (a recording is never overwritten)", file=sys.stderr)
    except OSError as exc:
        print(f"monitor: error: cannot create {path}: {exc.strerror or exc}", file=sys.stderr)
    return None


def tapped(config: FeedConfig, writer: RecordingWriter | None) -> FeedConfig:
    """`config` with the writer's tap on the receive loop (unchanged without a writer)."""
    return config if writer is None else dataclasses.replace(config, on_raw=writer.append)


async def close_recording(writer: RecordingWriter, path: Path) -> bool:
    """Writes what is queued and closes the file (off the loop); says what was kept. False when
    writing failed."""
    await asyncio.to_thread(writer.close)
    if writer.error is not None:
        print(
            f"monitor: error: writing {path} failed: {writer.error.strerror or writer.error}", file=sys.stderr
        )
        return False
    why = f" (stopped: {writer.stop_reason.value} limit)" if writer.stop_reason is not None else ""
    kept = f"{writer.messages_written} messages, {writer.bytes_written} bytes"
    print(f"monitor: recorded {kept} to {path}{why}", file=sys.stderr)
    return True


def run(args: argparse.Namespace) -> int:
    """Records until Ctrl+C (exit 130), SIGTERM, --duration or --max-bytes (0); 2 for a bad file."""
    return asyncio.run(_main(args))


async def _main(args: argparse.Namespace) -> int:
    # Imported here: `monitor --help` builds every command's parser and must not load grpc; and
    # monitor.cli.stream imports this module (for --record).
    from monitor.cli.stream import exit_status, say_demo, stopping_on_signals, stream
    from monitor.feed import Feed

    settings, _ = settings_from_args(args)
    clock = clock_from_args(args)
    keys = [WatchKey(watch_id, args.interval) for watch_id in args.ids]
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    writer = open_recording(
        args.output, keys, clock, max_bytes=args.max_bytes, max_seconds=args.duration,
        on_stop=lambda _reason: _wake(loop, stop),
    )  # fmt: skip
    if writer is None:
        return EXIT_USAGE
    try:
        with stopping_on_signals(stop) as received:
            async with demo.feed_config(settings, clock) as config:
                say_demo(config, "recording")
                # No store: a recording keeps what the stream sent; the feed's history is not its concern.
                feed = Feed(config=tapped(config, writer), clock=clock)
                # `monitor stream` without its candle lines: health on stderr, and it ends as it does.
                with open(os.devnull, "w") as discard:
                    status = await stream(
                        feed, args.ids, args.interval, as_json=False, stop=stop, out=discard
                    )
    finally:
        written = await close_recording(writer, args.output)
    if not written:
        return EXIT_FAILED
    return exit_status(status, received)


def _wake(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Sets `stop` from the writer's thread (a limit was reached); a closed loop has stopped anyway."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(stop.set)


def replay_server(path: Path, speed: float) -> Callable[[SimConfig], SimServer] | None:
    """What `monitor sim --replay FILE --speed N` serves; None after saying why FILE cannot be
    replayed. A cut recording is served up to the cut, which stderr and the log name."""
    from monitor.recording import RecordingError, read_recording
    from monitor.sim.replay import ReplayServer

    try:
        recording = read_recording(path)
    except RecordingError as exc:
        print(f"monitor sim: cannot replay {path}: {exc}", file=sys.stderr)
        return None
    except OSError as exc:
        print(f"monitor sim: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return None
    if recording.truncated:
        print(f"monitor sim: {path} is cut: {recording.describe_cut()}", file=sys.stderr, flush=True)
    return lambda config: ReplayServer(recording, config, speed)
