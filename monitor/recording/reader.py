"""Reading a recording: its header and every whole record, up to where the file was cut."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from google.protobuf.message import DecodeError

from monitor.files import read_bytes_bounded
from monitor.pb import marketdata_pb2 as md
from monitor.recording.format import Header, RecordingError, decode_header, decode_record

MAX_RECORDING_BYTES = 4 << 30
"""A larger file is a wrong path (the reader holds the recording in memory)."""


@dataclass(frozen=True, slots=True)
class Recording:
    """A recording as read: the header, (receive time, message) in order, and where it ends."""

    header: Header
    messages: tuple[tuple[float, md.MarketDataResponse], ...]
    size: int
    """Bytes in the file."""
    cut_at: int | None = None
    """Byte offset of the first record that could not be read whole (None: the file ends cleanly)."""
    problem: str | None = None
    """Why reading stopped at `cut_at`: the file ends inside a record, or a record is damaged."""

    @property
    def truncated(self) -> bool:
        return self.cut_at is not None

    def describe_cut(self) -> str:
        """One line for the log and stderr: where the recording was cut and what is kept."""
        kept = f"replaying the {len(self.messages)} messages before it"
        return f"{self.problem} at byte {self.cut_at} of {self.size}: {kept}"


def read_recording(path: Path) -> Recording:
    """Reads `path` up to its cut.

    Raises:
        RecordingError: not a recording this version reads (the message is for the user).
        OSError: the file cannot be read (missing, no permission, not a regular file).
    """
    return parse_recording(read_bytes_bounded(path, MAX_RECORDING_BYTES))


def parse_recording(data: bytes) -> Recording:
    """A recording from its bytes (see read_recording)."""
    header, offset = decode_header(data)
    messages: list[tuple[float, md.MarketDataResponse]] = []
    problem: str | None = None
    while offset < len(data):
        try:
            record = decode_record(data, offset)
        except RecordingError:
            problem = "damaged record"
            break
        if record is None:
            problem = "the file ends inside a record"
            break
        received_at, payload, after = record
        message = md.MarketDataResponse()
        try:
            message.ParseFromString(payload)
        except DecodeError:
            problem = "damaged record"
            break
        messages.append((received_at, message))
        offset = after
    cut = offset if problem is not None else None
    return Recording(header, tuple(messages), len(data), cut, problem)
