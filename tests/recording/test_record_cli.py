"""`monitor record` against the simulator, then `monitor sim --replay` into `monitor stream --json`."""

from __future__ import annotations

import calendar
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

sys.path.insert(0, str(Path(__file__).parents[2]))

from monitor.pb import common_pb2
from monitor.pb import marketdata_pb2 as md
from monitor.recording import read_recording
from monitor.recording.format import encode_header
from monitor.recording.reader import parse_recording
from tests.recording.kit import Values, expected_closed, recorded_versions

REPO = Path(__file__).resolve().parents[2]
SPEED = "300"  # a minute candle closes every 0.2 s of wall time
IDS = ("SBER_TQBR", "GAZP_TQBR")


def env(tmp_path: Path, token: str | None = None) -> dict[str, str]:
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MONITOR_") and not k.endswith("_TOKEN_STRING")
    }
    base.update(
        XDG_CONFIG_HOME=str(tmp_path / "cfg"), XDG_STATE_HOME=str(tmp_path / "state"), HOME=str(tmp_path),
        PYTHONPATH=str(REPO), PYTHONUNBUFFERED="1",
    )  # fmt: skip
    if token is not None:
        base["TINKOFF_TOKEN_STRING"] = token
    return base


def monitor(tmp_path: Path, *args: str, token: str | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=env(tmp_path, token),
    )  # fmt: skip


def run_monitor(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", *args],
        capture_output=True,
        text=True,
        env=env(tmp_path),
        timeout=60,
    )


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def serving(process: subprocess.Popen[str]) -> str:
    """The address a `monitor sim` prints first."""
    assert process.stdout is not None
    line = process.stdout.readline()
    assert line.startswith("monitor sim listening on "), line
    process.stdout.readline()  # the connect hint
    return line.split()[4]


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        threading.Event().wait(0.05)


def closed_periods(versions: dict[str, dict[int, list[Values]]]) -> int:
    """Periods a client sees closed: every recorded period but each series' newest."""
    return sum(max(0, len(periods) - 1) for periods in versions.values())


def read_lines(stream: IO[str], into: list[str]) -> threading.Thread:
    thread = threading.Thread(target=lambda: into.extend(iter(stream.readline, "")), daemon=True)
    thread.start()
    return thread


@pytest.mark.timeout(120)
def test_a_recording_replays_into_monitor_stream_as_the_candles_recorded(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    sim = monitor(tmp_path, "sim", "--speed", SPEED, "--token", "tk")
    processes.append(sim)
    address = serving(sim)
    path = tmp_path / "session.rec"
    connect = ("--endpoint", address, "--plaintext", "--sim-speed", SPEED)
    recorder = monitor(tmp_path, "record", *IDS, "--interval", "1m", "-o", str(path), *connect, token="tk")
    processes.append(recorder)

    def enough() -> bool:  # a prefix of a file being written always reads
        if not path.exists():
            return False
        versions = recorded_versions(m for _, m in parse_recording(path.read_bytes()).messages)
        return len(versions) == 2 and all(len(periods) >= 6 for periods in versions.values())

    wait_until(enough, "six periods of each instrument recorded")
    recorder.send_signal(signal.SIGINT)
    _, record_err = recorder.communicate(timeout=20)
    sim.send_signal(signal.SIGTERM)
    sim.communicate(timeout=20)
    assert recorder.returncode == 130 and "Traceback" not in record_err  # Ctrl+C, as every command
    recording = read_recording(path)
    assert not recording.truncated  # complete up to the last message
    assert f"recorded {len(recording.messages)} messages" in record_err
    assert [(s.id, s.interval) for s in recording.header.subscriptions] == [(i, "1m") for i in IDS]
    assert recording.header.clock_speed == float(SPEED)
    versions = recorded_versions(m for _, m in recording.messages)

    replay = monitor(tmp_path, "sim", "--replay", str(path), "--speed", "4", "--token", "tk2")
    processes.append(replay)
    address = serving(replay)
    connect = ("--endpoint", address, "--plaintext", "--sim-speed", SPEED)
    stream = monitor(tmp_path, "stream", *IDS, "--json", *connect, token="tk2")
    processes.append(stream)
    lines: list[str] = []
    assert stream.stdout is not None
    reader = read_lines(stream.stdout, lines)
    want = closed_periods(versions)

    def closed_printed() -> int:
        records = [json.loads(line) for line in list(lines)]
        return len({(r["uid"], r["time"]) for r in records if r["closed"]})

    wait_until(lambda: closed_printed() >= want, f"{want} closed candles")
    stream.send_signal(signal.SIGINT)
    _, stream_err = stream.communicate(timeout=20)
    reader.join(10)
    assert stream.returncode == 130 and "Traceback" not in stream_err

    printed = [json.loads(line) for line in lines]
    final: dict[str, dict[int, Values]] = {}  # insertion order: the order periods were first closed
    for record in printed:
        when = calendar.timegm(time.strptime(record["time"], "%Y-%m-%dT%H:%M:%SZ"))
        values = (record["open"], record["high"], record["low"], record["close"], record["volume"])
        # Every line, live or backfilled (GetCandles serves what was replayed), is a version of its
        # candle the recording holds: nothing is made up.
        assert values in versions[record["uid"]][when], record
        if record["closed"]:
            closed = final.setdefault(record["uid"], {})
            assert (when in closed) == record.get("correction", False), record  # a repeat is a correction
            closed[when] = values
    for uid, periods in versions.items():
        # The closed candles are the recorded periods but the newest, in order, each as last recorded.
        assert list(final[uid].items()) == list(expected_closed(periods).items())


def test_record_refuses_an_existing_file_and_bad_bounds(tmp_path: Path) -> None:
    existing = tmp_path / "kept.rec"
    existing.write_bytes(b"precious")
    taken = run_monitor(tmp_path, "record", "SBER_TQBR", "-o", str(existing))
    assert taken.returncode == 2 and "already exists" in taken.stderr and "Traceback" not in taken.stderr
    assert existing.read_bytes() == b"precious"
    nowhere = run_monitor(tmp_path, "record", "SBER_TQBR", "-o", str(tmp_path / "no" / "dir.rec"))
    assert nowhere.returncode == 2 and "cannot create" in nowhere.stderr
    for flag, value in (("--max-bytes", "0"), ("--max-bytes", "lots"), ("--duration", "-1")):
        bad = run_monitor(tmp_path, "record", "SBER_TQBR", "-o", str(tmp_path / "x.rec"), flag, value)
        assert bad.returncode == 2 and flag in bad.stderr and "Traceback" not in bad.stderr


def test_record_stops_by_itself_at_its_size_bound(tmp_path: Path) -> None:
    path = tmp_path / "small.rec"
    done = run_monitor(
        tmp_path, "record", "SBER_TQBR", "-o", str(path), "--max-bytes", "3000", "--sim-speed", SPEED
    )
    assert done.returncode == 0, done.stderr
    assert "stopped: size limit" in done.stderr and path.stat().st_size <= 3000
    assert read_recording(path).messages and not read_recording(path).truncated


def test_replay_of_what_is_not_a_recording_is_refused(tmp_path: Path) -> None:
    missing = run_monitor(tmp_path, "sim", "--replay", str(tmp_path / "none.rec"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr and "Traceback" not in missing.stderr
    other = tmp_path / "other.rec"
    other.write_text("time,open\n")
    refused = run_monitor(tmp_path, "sim", "--replay", str(other))
    assert refused.returncode == 2 and "not a monitor recording" in refused.stderr


def test_a_cut_recording_is_served_and_the_simulator_says_where_it_was_cut(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    from monitor.recording import Header, Subscription
    from monitor.recording.format import encode_record

    ping = md.MarketDataResponse(ping=common_pb2.Ping(stream_id="s")).SerializeToString()
    data = encode_header(Header((Subscription("SBER_TQBR", "1m"),), 0.0)) + encode_record(1.0, ping)
    path = tmp_path / "cut.rec"
    path.write_bytes(data + encode_record(2.0, ping)[:-1])
    replay = monitor(tmp_path, "sim", "--replay", str(path))
    processes.append(replay)
    serving(replay)
    replay.send_signal(signal.SIGTERM)
    _, err = replay.communicate(timeout=20)
    size = path.stat().st_size
    assert f"is cut: the file ends inside a record at byte {len(data)} of {size}" in err
    assert "replaying the 1 messages before it" in err and replay.returncode == 0


@pytest.mark.timeout(60)
def test_stream_with_record_writes_what_it_printed(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    path = tmp_path / "stream.rec"
    stream = monitor(tmp_path, "stream", "SBER_TQBR", "--json", "--sim-speed", "600", "--record", str(path))
    processes.append(stream)
    lines: list[str] = []
    assert stream.stdout is not None
    reader = read_lines(stream.stdout, lines)
    wait_until(
        lambda: sum('"closed":true,"source":"stream"' in line for line in list(lines)) >= 2, "closed candles"
    )
    stream.send_signal(signal.SIGINT)
    _, err = stream.communicate(timeout=20)
    reader.join(10)
    assert stream.returncode == 130 and "Traceback" not in err and "recorded " in err
    recording = read_recording(path)
    versions = recorded_versions(m for _, m in recording.messages)
    live = [json.loads(line) for line in lines if '"source":"stream"' in line]
    for record in live:  # every live line printed is a version the recording holds
        when = calendar.timegm(time.strptime(record["time"], "%Y-%m-%dT%H:%M:%SZ"))
        values = (record["open"], record["high"], record["low"], record["close"], record["volume"])
        assert values in versions[record["uid"]][when]


def test_record_flags_refuse_an_existing_file(tmp_path: Path) -> None:
    existing = tmp_path / "kept.rec"
    existing.write_bytes(b"precious")
    for command in (("stream", "SBER_TQBR"), ("tui",)):
        refused = run_monitor(tmp_path, *command, "--record", str(existing))
        assert refused.returncode == 2 and "already exists" in refused.stderr, command
    assert existing.read_bytes() == b"precious"
