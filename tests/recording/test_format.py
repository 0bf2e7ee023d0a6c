"""The recording format: header and records round-trip, a cut file reads up to the cut, the bounds."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from google.protobuf.timestamp_pb2 import Timestamp

from monitor.pb import common_pb2
from monitor.pb import marketdata_pb2 as md
from monitor.recording import (
    FORMAT_VERSION,
    MAGIC,
    Header,
    RecordingError,
    RecordingWriter,
    StopReason,
    Subscription,
    read_recording,
)
from monitor.recording.format import encode_header, encode_record
from monitor.recording.reader import parse_recording

HEADER = Header(
    subscriptions=(Subscription("SBER_TQBR", "1m"), Subscription("GAZP_TQBR", "5m")),
    started_at=1_796_000_000.25,
    clock_speed=60.0,
    extra={"monitor_version": "9.9"},
)


def candle_message(minute: int, close: int) -> md.MarketDataResponse:
    return md.MarketDataResponse(
        candle=md.Candle(
            instrument_uid="uid-sber", interval=md.SUBSCRIPTION_INTERVAL_ONE_MINUTE,
            open=common_pb2.Quotation(units=100), high=common_pb2.Quotation(units=close + 1),
            low=common_pb2.Quotation(units=99), close=common_pb2.Quotation(units=close, nano=500_000_000),
            volume=10 * minute, time=Timestamp(seconds=1_796_000_000 + 60 * minute),
        )
    )  # fmt: skip


MESSAGES = [
    (1_796_000_001.5, md.MarketDataResponse(ping=common_pb2.Ping(stream_id="s-1"))),
    *((1_796_000_002.0 + i * 0.125, candle_message(i, 100 + i)) for i in range(5)),
]


def recording_bytes(messages: list[tuple[float, md.MarketDataResponse]] = MESSAGES) -> bytes:
    return encode_header(HEADER) + b"".join(encode_record(at, m.SerializeToString()) for at, m in messages)


def test_header_messages_and_receive_times_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.rec"
    writer = RecordingWriter.create(path, HEADER)
    for received_at, message in MESSAGES:
        writer.append(message, received_at)
    writer.close()
    recording = read_recording(path)
    assert recording.header == HEADER and recording.header.version == FORMAT_VERSION
    assert [m for _, m in recording.messages] == [m for _, m in MESSAGES]
    # Nanosecond precision: every time comes back within a microsecond of what was given.
    assert all(abs(a - b) < 1e-6 for (a, _), (b, _) in zip(recording.messages, MESSAGES, strict=True))
    assert not recording.truncated and recording.size == path.stat().st_size == writer.bytes_written
    assert writer.messages_written == len(MESSAGES) and writer.stop_reason is None


def test_the_file_starts_with_the_magic_and_the_header_names_the_contract() -> None:
    data = recording_bytes()
    assert data.startswith(MAGIC)
    assert b'"contract":"tinkoff.public.invest.api.contract.v1"' in data
    assert b'"message":"MarketDataResponse"' in data and b'"subscriptions":[{"id":"SBER_TQBR"' in data


def test_a_cut_anywhere_inside_the_last_record_reads_up_to_it_and_names_the_offset() -> None:
    data = recording_bytes()
    last_start = len(recording_bytes(MESSAGES[:-1]))
    for cut in range(last_start + 1, len(data)):
        recording = parse_recording(data[:cut])
        assert [m for _, m in recording.messages] == [m for _, m in MESSAGES[:-1]], cut
        assert recording.cut_at == last_start and recording.size == cut
        assert f"at byte {last_start} of {cut}" in recording.describe_cut()
    assert not parse_recording(data[:last_start]).truncated  # a cut between records is a clean end


def test_a_damaged_record_stops_the_reading_there() -> None:
    good = recording_bytes(MESSAGES[:2])
    damaged = good + encode_record(1.0, b"\xff\xff\xff")  # not a MarketDataResponse
    recording = parse_recording(damaged + recording_bytes(MESSAGES[2:])[len(encode_header(HEADER)) :])
    assert len(recording.messages) == 2 and recording.cut_at == len(good)
    assert recording.problem == "damaged record"


@pytest.mark.parametrize(
    ("data", "says"),
    [
        (b"", "not a monitor recording"),
        (b"time,open\n1,2\n", "not a monitor recording"),
        (MAGIC + b"\x00\x00", "cut inside its header"),
        (encode_header(HEADER)[:-3], "cut inside its header"),
        (encode_header(HEADER).replace(b'"version":1', b'"version":7'), "newer than this monitor reads"),
        (encode_header(HEADER).replace(b'"started_at"', b'"started_xx"'), "header is damaged"),
        (
            encode_header(HEADER).replace(b"MarketDataResponse", b"MarketDataRequest_"),
            "not MarketDataResponse",
        ),
    ],
)
def test_what_is_not_a_readable_recording_is_refused_with_a_reason(data: bytes, says: str) -> None:
    with pytest.raises(RecordingError, match=says):
        parse_recording(data)


def test_an_existing_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "a.rec"
    path.write_bytes(b"precious")
    with pytest.raises(FileExistsError):
        RecordingWriter.create(path, HEADER)
    assert path.read_bytes() == b"precious"


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Polls the writer thread's progress (a condition wait, bounded)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        threading.Event().wait(0.005)


class Sink(io.BytesIO):
    def close(self) -> None:  # keep the bytes readable after the writer closed it
        self.closed_by_writer = True


def test_the_size_bound_keeps_the_file_under_it_and_says_so() -> None:
    limit = len(recording_bytes(MESSAGES[:3])) + 5  # room for three records, not four
    stopped: list[StopReason] = []
    sink = Sink()
    writer = RecordingWriter(sink, HEADER, max_bytes=limit, on_stop=stopped.append)
    for received_at, message in MESSAGES:
        writer.append(message, received_at)
    wait_for(lambda: writer.stop_reason is not None)
    writer.append(*MESSAGES[0][::-1])  # ignored once stopped
    writer.close()
    assert stopped == [StopReason.SIZE] and writer.messages_written == 3
    assert len(sink.getvalue()) <= limit
    assert [m for _, m in parse_recording(sink.getvalue()).messages] == [m for _, m in MESSAGES[:3]]


def test_the_duration_bound_stops_taking_messages_after_the_wall_seconds() -> None:
    wall = [100.0]
    stopped: list[StopReason] = []
    sink = Sink()
    writer = RecordingWriter(sink, HEADER, max_seconds=30, on_stop=stopped.append, wall=lambda: wall[0])
    writer.append(MESSAGES[1][1], MESSAGES[1][0])
    wait_for(lambda: writer.messages_written == 1)
    wall[0] = 130.0
    wait_for(lambda: writer.stop_reason is not None)
    writer.append(MESSAGES[2][1], MESSAGES[2][0])
    writer.close()
    assert stopped == [StopReason.DURATION]
    assert [m for _, m in parse_recording(sink.getvalue()).messages] == [MESSAGES[1][1]]


class FailingSink(Sink):
    def write(self, data: bytes, /) -> int:  # type: ignore[override]
        if self.tell() > 0:
            raise OSError(28, "No space left on device")
        return super().write(data)


def test_a_failing_disk_stops_the_writer_with_the_error_not_a_traceback() -> None:
    stopped: list[StopReason] = []
    writer = RecordingWriter(FailingSink(), HEADER, on_stop=stopped.append)
    writer.append(MESSAGES[0][1], MESSAGES[0][0])
    writer.close()
    assert stopped == [StopReason.ERROR] and writer.error is not None and writer.messages_written == 0
