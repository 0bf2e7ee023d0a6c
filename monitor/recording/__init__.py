"""Recordings of the market-data stream: the file format, its writer and its reader (no Textual)."""

from monitor.recording.format import FORMAT_VERSION, MAGIC, Header, RecordingError, Subscription
from monitor.recording.reader import Recording, read_recording
from monitor.recording.writer import RecordingWriter, StopReason

__all__ = [
    "FORMAT_VERSION",
    "MAGIC",
    "Header",
    "Recording",
    "RecordingError",
    "RecordingWriter",
    "StopReason",
    "Subscription",
    "read_recording",
]
