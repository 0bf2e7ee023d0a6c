"""RecordingWriter: the receive loop appends messages; a thread serializes and writes them in batches."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Protocol

import structlog

from monitor.pb import marketdata_pb2 as md
from monitor.recording.format import Header, encode_header, encode_record

log = structlog.get_logger("monitor.recording")

FLUSH_EVERY_S = 0.05
"""Wall seconds between batches: a kill loses at most this much of the stream."""


class Sink(Protocol):
    """Where the bytes go (a file opened for binary writing, or a test double)."""

    def write(self, data: bytes, /) -> int: ...
    def flush(self) -> None: ...
    def close(self) -> None: ...


class StopReason(StrEnum):
    """Why a writer stopped taking messages before it was closed."""

    SIZE = "size"
    DURATION = "duration"
    ERROR = "error"


class RecordingWriter:
    """Writes a recording: the header at once, then every appended message in batches.

    `append` runs on the receive loop and only queues the message (a deque append: O(1), never
    blocks, whatever the disk does); a daemon thread serializes the queued messages every
    FLUSH_EVERY_S, writes them as one chunk and flushes, so a killed process leaves a readable
    prefix. Past `max_bytes` of file or `max_seconds` of wall time since opening, the writer stops
    taking messages and calls `on_stop` (from its thread) once.
    """

    def __init__(
        self,
        sink: Sink,
        header: Header,
        *,
        max_bytes: int | None = None,
        max_seconds: float | None = None,
        on_stop: Callable[[StopReason], None] | None = None,
        wall: Callable[[], float] = time.monotonic,
        flush_every: float = FLUSH_EVERY_S,
    ) -> None:
        self._sink = sink
        self._max_bytes = max_bytes
        self._max_seconds = max_seconds
        self._on_stop = on_stop
        self._wall = wall
        self._flush_every = flush_every
        self._pending: deque[tuple[md.MarketDataResponse, float]] = deque()
        self._closing = threading.Event()
        self._opened = wall()
        self.stop_reason: StopReason | None = None
        self.error: OSError | None = None
        self.messages_written = 0
        head = encode_header(header)
        sink.write(head)
        sink.flush()
        self.bytes_written = len(head)
        self._thread = threading.Thread(target=self._run, name="recording-writer", daemon=True)
        self._thread.start()

    @classmethod
    def create(cls, path: Path, header: Header, **options: object) -> RecordingWriter:
        """A writer on a new file at `path` (never an existing one: a recording is not overwritten).

        Raises:
            FileExistsError: `path` exists.
            OSError: it cannot be created (no such directory, no permission).
        """
        sink = path.open("xb")
        try:
            return cls(sink, header, **options)  # type: ignore[arg-type]
        except BaseException:
            sink.close()
            raise

    def append(self, message: md.MarketDataResponse, received_at: float) -> None:
        """Queues one server message with its receive time (the receive loop's hook: O(1))."""
        if self.stop_reason is None:
            self._pending.append((message, received_at))

    def close(self) -> None:
        """Writes what is queued, then closes the file (blocks: call it off the event loop)."""
        self._closing.set()
        self._thread.join()
        try:
            self._sink.close()
        except OSError as exc:
            self._fail(exc)

    def _run(self) -> None:
        while True:
            closing = self._closing.wait(self._flush_every)
            if (
                self.stop_reason is None
                and self._max_seconds is not None
                and self._wall() - self._opened >= self._max_seconds
            ):
                self._stop(StopReason.DURATION)
            self._write_batch()
            if closing:
                return

    def _write_batch(self) -> None:
        pending, chunks, size = self._pending, [], self.bytes_written
        count = 0
        while pending:
            message, received_at = pending.popleft()
            if self.stop_reason is not None:
                continue  # stopped: what was queued meanwhile is dropped
            record = encode_record(received_at, message.SerializeToString())
            if self._max_bytes is not None and size + len(record) > self._max_bytes:
                self._stop(StopReason.SIZE)
                continue
            chunks.append(record)
            size += len(record)
            count += 1
        if not chunks:
            return
        try:
            self._sink.write(b"".join(chunks))
            self._sink.flush()
        except OSError as exc:
            self._fail(exc)
            return
        self.bytes_written, self.messages_written = size, self.messages_written + count

    def _fail(self, exc: OSError) -> None:
        if self.error is None:
            self.error = exc
            log.warning("recording_write_failed", error=str(exc))
        self._stop(StopReason.ERROR)

    def _stop(self, reason: StopReason) -> None:
        if self.stop_reason is not None:
            return
        self.stop_reason = reason
        log.info("recording_stopped", reason=reason.value, messages=self.messages_written)
        if self._on_stop is not None:
            self._on_stop(reason)
