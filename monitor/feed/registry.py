"""The subscription registry: desired state, diffed against what the server confirmed.

The feed never replays a log of requests. It says what it wants (`set_desired`); the registry
works out, per stream, which subscribe and unsubscribe requests to send now (batched, paced
under the per-stream request limit, sharded at 300 candle subscriptions a stream), and reads
each confirmation per item, classified as confirmed, permanent failure, retry later or move to
another stream. The same code path serves the first subscription, runtime changes and
recovery after a reconnect (`stream_lost` + `stream_opened`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum

from monitor.clock import Clock
from monitor.feed.subwire import SubItem, SubKey, SubKind, build_request, key_order, parse_response
from monitor.pb import marketdata_pb2 as md

__all__ = ["Outcome", "Outcomes", "Registry", "SubKey", "SubKind"]

WINDOW_SECONDS = 60.0
RETRY_FIRST_SECONDS = 5.0
RETRY_MAX_SECONDS = 60.0


class Outcome(Enum):
    """What a subscription response means for one item."""

    CONFIRMED = "confirmed"
    REMOVED = "removed"
    FAILED = "failed"  # permanent: never retried
    RETRY_LATER = "retry_later"
    MOVE_STREAM = "move_stream"


Outcomes = list[tuple[SubKey, Outcome, str]]
"""What a subscription answer (or a reconciliation) meant for each subscription it named."""


_PERMANENT: dict[int, str] = {
    md.SUBSCRIPTION_STATUS_INSTRUMENT_NOT_FOUND: "instrument not found",
    md.SUBSCRIPTION_STATUS_SUBSCRIPTION_ACTION_IS_INVALID: "subscription action is invalid",
    md.SUBSCRIPTION_STATUS_DEPTH_IS_INVALID: "depth is invalid",
    md.SUBSCRIPTION_STATUS_INTERVAL_IS_INVALID: "interval is invalid",
    md.SUBSCRIPTION_STATUS_SOURCE_IS_INVALID: "candle source is invalid",
}
_RETRY: dict[int, str] = {
    md.SUBSCRIPTION_STATUS_TOO_MANY_REQUESTS: "too many subscription requests",
    md.SUBSCRIPTION_STATUS_INTERNAL_ERROR: "server internal error",
    md.SUBSCRIPTION_STATUS_UNSPECIFIED: "no status in the response",
}


@dataclass
class _Batch:
    """One request on the wire, awaiting its response."""

    kind: SubKind
    action: md.SubscriptionAction.ValueType
    keys: list[SubKey]


@dataclass
class _Stream:
    """What the registry knows about one stream slot."""

    open: bool = False
    capacity: int = 0
    sent: deque[float] = field(default_factory=deque)
    inflight: list[_Batch] = field(default_factory=list)
    snapshot_pending: bool = False
    snapshot_kinds: set[SubKind] = field(default_factory=set)


@dataclass
class _Entry:
    """The registry's record of one desired (or still confirmed) subscription."""

    stream: int = 0
    confirmed: bool = False
    inflight: bool = False
    failed: str | None = None
    retry_at: float | None = None
    retries: int = 0
    reason: str = ""


class Registry:
    """Desired subscriptions, their stream assignment and their confirmations."""

    def __init__(
        self,
        *,
        clock: Clock,
        max_per_stream: int = 300,
        requests_per_minute: int = 90,
        max_streams: int = 4,
    ) -> None:
        self._clock = clock
        self._max_per_stream = max_per_stream
        self._requests_per_minute = requests_per_minute
        self._max_streams = max_streams
        self._streams = [_Stream(capacity=max_per_stream) for _ in range(max_streams)]
        self._desired: set[SubKey] = set()
        self._entries: dict[SubKey, _Entry] = {}

    # -- desired state -------------------------------------------------------------------------

    @property
    def desired(self) -> frozenset[SubKey]:
        """The subscriptions the feed wants."""
        return frozenset(self._desired)

    def set_desired(self, keys: Iterable[SubKey]) -> None:
        """Replaces the desired set; the difference goes out with the next requests."""
        self._desired = set(keys)
        for key in self._desired:
            if key not in self._entries:
                self._entries[key] = _Entry(stream=self._assign(key))
        for key in [k for k, e in self._entries.items() if k not in self._desired]:
            entry = self._entries[key]
            if not entry.confirmed and not entry.inflight:
                del self._entries[key]  # nothing on the server to undo

    def streams_needed(self) -> int:
        """How many streams the desired set needs (0 when nothing is desired)."""
        streams = [e.stream for k, e in self._entries.items() if e.failed is None]
        return 0 if not streams else min(self._max_streams, max(streams) + 1)

    def status(self, key: SubKey) -> tuple[Outcome | None, str]:
        """The last known outcome for a key (None while it is pending) and its reason."""
        entry = self._entries.get(key)
        if entry is None:
            return None, ""
        if entry.failed is not None:
            return Outcome.FAILED, entry.failed
        if entry.confirmed:
            return Outcome.CONFIRMED, ""
        if entry.retry_at is not None:
            return Outcome.RETRY_LATER, entry.reason
        return None, ""

    def holds(self, key: SubKey) -> bool:
        """Whether the key is desired, or still held on (or being removed from) the server."""
        return key in self._entries

    def stream_of(self, key: SubKey) -> int | None:
        """The stream slot that holds (or will hold) `key`, or None when it is not wanted."""
        entry = self._entries.get(key)
        return None if entry is None else entry.stream

    def confirmed(self, stream: int | None = None) -> set[SubKey]:
        """Keys the server confirmed (on one stream, or on any)."""
        return {k for k, e in self._entries.items() if e.confirmed and (stream is None or e.stream == stream)}

    # -- stream lifecycle ----------------------------------------------------------------------

    def stream_opened(self, stream: int) -> None:
        """A stream is ready for requests."""
        self._streams[stream].open = True

    def stream_lost(self, stream: int) -> None:
        """A stream ended: its subscriptions are gone on the server, the desired ones stay."""
        slot = self._streams[stream]
        slot.open = False
        slot.inflight.clear()
        slot.snapshot_pending = False
        for key, entry in list(self._entries.items()):
            if entry.stream != stream:
                continue
            entry.confirmed = entry.inflight = False
            if key not in self._desired:
                del self._entries[key]

    # -- sending -------------------------------------------------------------------------------

    def pending(self, stream: int) -> bool:
        """Whether anything waits to be sent on the stream (paced or not)."""
        now = self._clock.now()
        return any(self._wanted(key, entry, stream, now) for key, entry in self._entries.items())

    def next_send_at(self, stream: int) -> float | None:
        """Clock time at which more can be sent on the stream (None when nothing is pending)."""
        now = self._clock.now()
        retry_times = [
            e.retry_at
            for e in self._entries.values()
            if e.stream == stream and e.retry_at is not None and e.failed is None
        ]
        if not self.pending(stream):
            return min(retry_times) if retry_times else None
        window = self._streams[stream].sent
        self._expire(window, now)
        if len(window) < self._requests_per_minute:
            return now
        return window[0] + WINDOW_SECONDS

    def next_requests(self, stream: int) -> list[md.MarketDataRequest]:
        """The requests to send now on the stream: batched per kind and action, paced."""
        slot = self._streams[stream]
        if not slot.open:
            return []
        now = self._clock.now()
        self._expire(slot.sent, now)
        groups: dict[tuple[SubKind, md.SubscriptionAction.ValueType], list[SubKey]] = {}
        for key, entry in self._entries.items():
            if self._wanted(key, entry, stream, now):
                action: md.SubscriptionAction.ValueType = (
                    md.SUBSCRIPTION_ACTION_SUBSCRIBE
                    if key in self._desired
                    else md.SUBSCRIPTION_ACTION_UNSUBSCRIBE
                )
                groups.setdefault((key.kind, action), []).append(key)
        requests: list[md.MarketDataRequest] = []
        # Unsubscribes first: they make room on the stream for what comes next.
        for (kind, action), keys in sorted(groups.items(), key=lambda item: -item[0][1]):
            for start in range(0, len(keys), self._max_per_stream):
                if len(slot.sent) >= self._requests_per_minute:
                    return requests
                chunk = sorted(keys[start : start + self._max_per_stream], key=key_order)
                requests.append(build_request(kind, action, chunk))
                slot.sent.append(now)
                slot.inflight.append(_Batch(kind, action, chunk))
                for key in chunk:
                    self._entries[key].inflight = True
        return requests

    def snapshot_request(self, stream: int) -> md.MarketDataRequest:
        """A GetMySubscriptions request; its answers reconcile the stream (`finish_snapshot`)."""
        slot = self._streams[stream]
        slot.snapshot_pending, slot.snapshot_kinds = True, set()
        return md.MarketDataRequest(get_my_subscriptions=md.GetMySubscriptions())

    # -- receiving -----------------------------------------------------------------------------

    def on_response(self, stream: int, response: md.MarketDataResponse) -> Outcomes:
        """Reads a Subscribe*Response: an answer to a request, or a part of a snapshot."""
        parsed = parse_response(response)
        if parsed is None:
            return []
        kind, items = parsed
        slot = self._streams[stream]
        batch = self._match(slot, kind, items)
        if batch is not None:
            slot.inflight.remove(batch)
            return self._apply(stream, batch, items)
        if slot.snapshot_pending:
            slot.snapshot_kinds.add(kind)
            return self._apply_snapshot(stream, kind, items)
        return []

    def finish_snapshot(self, stream: int) -> int:
        """Ends a reconciliation: kinds the server did not list at all have no subscriptions.

        Returns how many confirmed subscriptions turned out to be missing (they are re-queued).
        """
        slot = self._streams[stream]
        if not slot.snapshot_pending:
            return 0
        slot.snapshot_pending = False
        missing = 0
        for key, entry in self._entries.items():
            if entry.stream == stream and entry.confirmed and key.kind not in slot.snapshot_kinds:
                entry.confirmed = False
                missing += 1
        return missing

    # -- internals -----------------------------------------------------------------------------

    def _assign(self, key: SubKey) -> int:
        if key.kind is not SubKind.CANDLES:
            return 0  # info is unlimited; last prices ride with the first stream
        load = [0] * self._max_streams
        for other, entry in self._entries.items():
            if other.kind is SubKind.CANDLES and entry.failed is None:
                load[entry.stream] += 1
        for stream, slot in enumerate(self._streams):
            if load[stream] < slot.capacity:
                return stream
        return self._max_streams - 1

    def _wanted(self, key: SubKey, entry: _Entry, stream: int, now: float) -> bool:
        if entry.stream != stream or entry.inflight or entry.failed is not None:
            return False
        if key in self._desired:
            if entry.confirmed:
                return False
            return entry.retry_at is None or entry.retry_at <= now
        return entry.confirmed  # no longer desired: unsubscribe what the server holds

    def _expire(self, window: deque[float], now: float) -> None:
        while window and now - window[0] >= WINDOW_SECONDS:
            window.popleft()

    def _match(self, slot: _Stream, kind: SubKind, items: list[SubItem]) -> _Batch | None:
        # By content first (the docs' advice); the oldest batch of the kind when the server
        # left the ids empty, as it may on INSTRUMENT_NOT_FOUND (java-sdk #6).
        ids = {(item.uid, item.interval) for item in items if item.uid}
        candidates = [b for b in slot.inflight if b.kind is kind and len(b.keys) == len(items)]
        for batch in candidates:
            if ids and ids <= {(k.uid, k.interval) for k in batch.keys}:
                return batch
        if not ids and candidates:
            return candidates[0]
        return None

    def _apply(self, stream: int, batch: _Batch, items: list[SubItem]) -> Outcomes:
        by_id = {(k.uid, k.interval): k for k in batch.keys}
        results: Outcomes = []
        for position, item in enumerate(items):
            key = by_id.get((item.uid, item.interval)) or batch.keys[min(position, len(batch.keys) - 1)]
            entry = self._entries.get(key)
            if entry is None:
                continue
            entry.inflight = False
            outcome, reason = self._classify(stream, key, entry, batch.action, item.status)
            results.append((key, outcome, reason))
            if key not in self._desired and not entry.confirmed:
                self._entries.pop(key, None)  # nothing left on the server to undo
        return results

    def _classify(
        self, stream: int, key: SubKey, entry: _Entry, action: md.SubscriptionAction.ValueType, status: int
    ) -> tuple[Outcome, str]:
        now = self._clock.now()
        if action == md.SUBSCRIPTION_ACTION_UNSUBSCRIBE:
            # SUBSCRIPTION_NOT_FOUND on unsubscribe means it is already gone: the same result.
            entry.confirmed = False
            if key not in self._desired:
                del self._entries[key]
            return Outcome.REMOVED, ""
        if status == md.SUBSCRIPTION_STATUS_SUCCESS:
            entry.confirmed, entry.retry_at, entry.retries, entry.reason = True, None, 0, ""
            return Outcome.CONFIRMED, ""
        if status in _PERMANENT:
            entry.failed = _PERMANENT[status]
            return Outcome.FAILED, entry.failed
        if status == md.SUBSCRIPTION_STATUS_LIMIT_IS_EXCEEDED:
            slot = self._streams[stream]
            slot.capacity = min(slot.capacity, len(self.confirmed(stream)))
            if stream + 1 >= self._max_streams:
                entry.failed = f"subscription limit reached ({self._max_streams} streams)"
                return Outcome.FAILED, entry.failed
            entry.stream = stream + 1
            return Outcome.MOVE_STREAM, "stream is full; moved to another stream"
        reason = _RETRY.get(status, f"subscription status {status}")
        entry.retry_at = now + min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2**entry.retries)
        entry.retries += 1
        entry.reason = reason
        return Outcome.RETRY_LATER, reason

    def _apply_snapshot(self, stream: int, kind: SubKind, items: list[SubItem]) -> Outcomes:
        success = md.SUBSCRIPTION_STATUS_SUCCESS
        listed = {(item.uid, item.interval) for item in items if item.status == success}
        results: Outcomes = []
        for key, entry in self._entries.items():
            if key.kind is not kind or entry.stream != stream or entry.inflight:
                continue
            present = (key.uid, key.interval) in listed
            if entry.confirmed and not present:
                entry.confirmed = False
                results.append((key, Outcome.REMOVED, "missing on the server"))
            elif present and not entry.confirmed and key in self._desired:
                entry.confirmed = True
                results.append((key, Outcome.CONFIRMED, ""))
        return results
