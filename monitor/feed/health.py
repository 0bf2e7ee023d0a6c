"""The health model: connection state, stream counters and per-watch-entry status.

Health is the single source of truth for "is the data live?". It changes only through its own
methods (each bumps `version` when something visible moved); the UI and `monitor stream` only
read it. Every connection transition is recorded as a HealthEvent.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol

from monitor.feed.lag import CAUGHT_UP_S, LAG_BOUND_S
from monitor.market import CandleSeries, TradingPhase, WatchKey


class ConnectionState(Enum):
    """Where the feed's connection stands."""

    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    STALE = "stale"  # the stream is open but silent beyond the watchdog bound
    AUTH_FAILED = "auth_failed"  # fatal: the token was rejected; never retried on its own
    DOWN = "down"  # stopped: closed, or an unexpected error in the feed


class WatchState(Enum):
    """Where one watch entry (instrument id + interval) stands."""

    RESOLVING = "resolving"
    PENDING = "pending"  # resolved, subscription sent or queued, not confirmed yet
    ACTIVE = "active"  # confirmed by the server
    RETRYING = "retrying"  # TOO_MANY_REQUESTS / INTERNAL_ERROR: will be retried
    FAILED = "failed"  # permanent: not found, invalid; shown on the panel, never retried


CLOCK_SKEW_WARN_S = 2.0
"""Wall seconds of clock skew worth a warning: one-minute candles would visibly close late or early."""


@dataclass(slots=True)
class WatchHealth:
    """The state of one watch entry, rendered on its panel (read-only: Health changes it)."""

    state: WatchState = WatchState.RESOLVING
    uid: str | None = None
    """The instrument uid once resolved (the key of its book series)."""
    reason: str | None = None
    """Why the entry failed or is retrying, in words a user understands."""
    series: CandleSeries | None = None
    """The book's series of the resolved instrument, which stamps its own receive time."""

    @property
    def last_data_at(self) -> float | None:
        """Clock time of the newest streamed candle that changed this entry's series."""
        return None if self.series is None else self.series.received_at


@dataclass(frozen=True, slots=True)
class HealthEvent:
    """One connection transition, with the reason and the API's numeric code when there is one;
    or a stream entering or leaving LAGGING (`lagging` set, `state` the connection's meanwhile)."""

    at: float
    state: ConnectionState
    reason: str = ""
    code: str | None = None
    attempt: int = 0
    lagging: bool | None = None
    """True: a stream's data started to arrive late; False: it caught up; None: not a lag event."""
    lag: float = 0.0
    """The lag of a lag event, in wall seconds."""

    @property
    def label(self) -> str:
        """What the event is called on screen: the state's name, or LAGGING when a lag began."""
        return "LAGGING" if self.lagging else self.state.name


SKEW_RESOLUTION_S = 0.5
"""A change of the clock skew smaller than this is not worth a redraw."""


class MessageSource(Protocol):
    """Something that counts received messages itself: a stream session."""

    messages: int
    last_message_at: float | None


@dataclass(slots=True)
class Health:
    """Everything the status bar and the panel badges show about the feed."""

    endpoint: str = ""
    mode: str = "LIVE API"
    """DEMO (built-in simulator), SANDBOX or LIVE API."""
    state: ConnectionState = ConnectionState.CONNECTING
    attempt: int = 0
    """Reconnect attempt number while RECONNECTING (1 = the first retry)."""
    next_retry_at: float | None = None
    """Clock time of the next connection attempt while RECONNECTING."""
    reconnects: int = 0
    last_reason: str = ""
    last_code: str | None = None
    clock_skew: float | None = None
    """Wall seconds our clock is ahead of the server's (behind when negative), from the newest
    stamps' minimum-filtered offset (feed/lag.py), so a lagging link does not read as a skewed
    clock; the minimum network delay is in it, so it reads a little ahead."""
    lag: dict[int, float] = field(default_factory=dict)
    """Per stream slot whose data arrives late (LAGGING), its lag in wall seconds; others absent."""
    bad_messages: int = 0
    """Malformed or hostile stream messages skipped (counted, never applied to the book)."""
    last_bad_reason: str = ""
    """Why the newest skipped message was skipped."""
    channel_problem: str | None = None
    """Why the channel cannot connect (DNS, refused, TLS), in the user's words; None once it does."""
    watch: dict[WatchKey, WatchHealth] = field(default_factory=dict)
    trading: dict[str, TradingPhase] = field(default_factory=dict)
    """Trading phase per instrument uid, from the info subscription."""
    events: deque[HealthEvent] = field(default_factory=lambda: deque(maxlen=200))
    version: int = 0
    """Grows on every change, so the UI redraws the status only when it moved."""
    _rate_window: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=16))
    _counted: int = 0
    """Messages of sources that ended, and those noted one by one."""
    _last_at: float | None = None
    _sources: list[MessageSource] = field(default_factory=list)
    """Open streams: each counts its own messages, read here when asked (never per message)."""

    def transition(
        self,
        state: ConnectionState,
        at: float,
        reason: str = "",
        code: str | None = None,
        attempt: int = 0,
        next_retry_at: float | None = None,
    ) -> HealthEvent | None:
        """Moves to `state`; returns the event, or None when nothing changed."""
        if (
            state is self.state
            and reason == self.last_reason
            and attempt == self.attempt
            and next_retry_at == self.next_retry_at
        ):
            return None
        self.state, self.attempt, self.next_retry_at = state, attempt, next_retry_at
        if reason:
            self.last_reason, self.last_code = reason, code
        event = HealthEvent(at, state, reason, code, attempt)
        self.events.append(event)
        self.version += 1
        return event

    @property
    def messages(self) -> int:
        """Messages received over the feed's life (pings included)."""
        return self._counted + sum(source.messages for source in self._sources)

    @property
    def last_message_at(self) -> float | None:
        """When the newest message of any kind arrived."""
        times = [t for t in (self._last_at, *(s.last_message_at for s in self._sources)) if t is not None]
        return max(times, default=None)

    @property
    def streams(self) -> int:
        """Streams open now (each one counts its messages here while it runs)."""
        return len(self._sources)

    def count_from(self, source: MessageSource) -> None:
        """Reads `source`'s counters from now on (a stream session while it runs)."""
        self._sources.append(source)

    def stop_counting(self, source: MessageSource) -> None:
        """Keeps what `source` counted and stops reading it (its stream ended)."""
        if source in self._sources:
            last = self.last_message_at  # the newest of all, this source's included
            self._sources.remove(source)
            self._counted += source.messages
            self._last_at = last

    def note_server_time(self, skew: float) -> None:
        """Records the clock skew a ping showed; the version moves only when it moved visibly."""
        old, self.clock_skew = self.clock_skew, skew
        if old is None or abs(old - skew) >= SKEW_RESOLUTION_S:
            self.version += 1

    def note_lag(self, stream: int, lag: float | None, at: float) -> HealthEvent | None:
        """Records stream `stream`'s measured lag (None: nothing fresh to measure it by).

        Above LAG_BOUND_S the stream enters LAGGING, under CAUGHT_UP_S it leaves it; each crossing
        is a HealthEvent (returned). The version moves on a crossing and when the lag shown (whole
        seconds) moved, not on every sample.
        """
        if lag is None:
            return None
        was = self.lag.get(stream)
        if was is None and lag < LAG_BOUND_S:
            return None
        if was is not None and lag >= CAUGHT_UP_S:
            self.lag[stream] = lag
            if round(was) != round(lag):
                self.version += 1
            return None
        if was is None:
            self.lag[stream] = lag
            reason = f"data {lag:.0f}s behind on stream {stream}"
            event = HealthEvent(at, self.state, reason, lagging=True, lag=lag)
        else:
            del self.lag[stream]
            event = HealthEvent(at, self.state, f"caught up on stream {stream}", lagging=False, lag=lag)
        self.events.append(event)
        self.version += 1
        return event

    def forget_lag(self, stream: int) -> None:
        """Stream `stream` ended: its lag ends with it (the connection's transition says why)."""
        if self.lag.pop(stream, None) is not None:
            self.version += 1

    @property
    def lagging(self) -> float | None:
        """The largest lag of a LAGGING stream, or None while none lags."""
        return max(self.lag.values(), default=None)

    def message_rate(self, now: float) -> float:
        """Messages per second over the last few seconds (sampled on read, never on receive)."""
        window, count = self._rate_window, self.messages
        window.append((now, count))
        while len(window) > 1 and now - window[0][0] > 5.0:
            window.popleft()
        first_at, first_count = window[0]
        elapsed = now - first_at
        return (count - first_count) / elapsed if elapsed > 0 else 0.0

    def attempt_started_at(self, now: float) -> float | None:
        """While RECONNECTING, when the attempt in flight began; None while it waits for its time.

        The supervisor announces an attempt once, with the time it is due (`next_retry_at`), and
        opens the stream then; nothing more is announced until the attempt ends, so an attempt is
        in flight from its due time on.
        """
        due = self.next_retry_at
        if self.state is not ConnectionState.RECONNECTING or due is None or now < due:
            return None
        return due

    def silent_since(self) -> float | None:
        """When the current outage's silence began: the newest message's arrival, or, when none
        ever arrived, the first transition of the current run of non-LIVE states."""
        if self.last_message_at is not None:
            return self.last_message_at
        start: float | None = None
        for event in reversed(self.events):
            if event.state is ConnectionState.LIVE:
                break
            start = event.at
        return start

    def message_age(self, now: float) -> float | None:
        """Seconds since the last message of any kind, when one has arrived."""
        return None if self.last_message_at is None else max(0.0, now - self.last_message_at)

    def set_watch(self, key: WatchKey, state: WatchState, reason: str | None = None) -> None:
        """Updates one watch entry's state and reason."""
        entry = self.watch.setdefault(key, WatchHealth())
        if entry.state is state and entry.reason == reason:
            return
        entry.state, entry.reason = state, reason
        self.version += 1

    def watch_only(self, keys: Iterable[WatchKey]) -> None:
        """Keeps the entries of `keys` (new ones start RESOLVING) and forgets every other one."""
        wanted = dict.fromkeys(keys)
        self.watch = {key: self.watch.get(key) or WatchHealth() for key in wanted}
        self.version += 1

    def resolved(self, key: WatchKey, uid: str, series: CandleSeries | None = None) -> None:
        """Records the instrument uid (and its book series) a watch entry resolved to."""
        entry = self.watch.get(key)
        if entry is None or (entry.uid == uid and (series is None or entry.series is series)):
            return
        entry.uid = uid
        if series is not None:
            entry.series = series
        self.version += 1

    def set_phase(self, uid: str, phase: TradingPhase) -> None:
        """Records an instrument's trading phase (from the info subscription)."""
        if self.trading.get(uid) is not phase:
            self.trading[uid] = phase
            self.version += 1

    def note_bad(self, reason: str, count: int = 1) -> None:
        """Counts `count` skipped messages and remembers why the newest one was skipped."""
        self.bad_messages += count
        self.last_bad_reason = reason
        self.version += 1

    def note_channel(self, problem: str | None) -> None:
        """Records why the channel cannot connect (None: it connected)."""
        if problem != self.channel_problem:
            self.channel_problem = problem
            self.version += 1

    def note_reconnect(self) -> None:
        """Counts one reconnect attempt."""
        self.reconnects += 1
        self.version += 1
