"""The status bar and the problem banner: connection health in words, redrawn only on change."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo

from rich.text import Text
from textual.widget import Widget

from monitor.feed import CLOCK_SKEW_WARN_S, ConnectionState, Health, WatchState, WatchView
from monitor.ui.times import format_age

STATE_STYLES: dict[ConnectionState, str] = {
    ConnectionState.LIVE: "bold green",
    ConnectionState.CONNECTING: "bold yellow",
    ConnectionState.RECONNECTING: "bold yellow",
    ConnectionState.STALE: "bold yellow",
    ConnectionState.AUTH_FAILED: "bold red",
    ConnectionState.DOWN: "bold red",
}
LAGGING_STYLE = "bold yellow"
LONG_OUTAGE_ATTEMPTS = 3
"""Reconnect attempts after which the outage gets a banner, not just the status bar."""
BAD_STYLE = "bold yellow"
REASON_LIMIT = 200
STORE_LIMIT = 60
"""Characters of the store notice shown: the full reason is in the log."""
"""Characters of a skip reason shown; it can carry server text, so it is also cut."""


@dataclass(frozen=True)
class StatusInfo:
    """What the app knows beyond the health model: pause state and a feed worker failure."""

    paused: bool = False
    pending: int = 0
    feed_down: str | None = None
    timezone: str = "exchange"
    store: str | None = None
    """Why the candle store is off ("store off: <reason>"), when the user did not ask for that."""


def connection_state(health: Health, info: StatusInfo) -> ConnectionState:
    """The effective state: a crashed feed worker is DOWN whatever health last said."""
    return ConnectionState.DOWN if info.feed_down is not None else health.state


def status_text(health: Health, info: StatusInfo, now: float, tz: tzinfo) -> Text:
    """The status line: state, endpoint and mode, rate, age, reconnects, pause and the clock.

    The state reads LAGGING with the largest lag while the connection is LIVE but a stream's data
    arrives late (Health.lag); connection trouble (STALE, RECONNECTING, ...) comes first.
    """
    state = connection_state(health, info)
    text = Text(no_wrap=True, overflow="ellipsis")
    lag = health.lagging
    if state is ConnectionState.LIVE and lag is not None:
        # Open and talking, but what arrives is old: not LIVE, and not silent (STALE) either.
        text.append(f" ● LAGGING {format_age(lag)}", style=LAGGING_STYLE)
    else:
        text.append(f" ● {state.name.replace('_', ' ')}", style=STATE_STYLES[state])
    if state is ConnectionState.RECONNECTING:
        text.append(f" {attempt_text(health, now)}")
    elif state is ConnectionState.DOWN and info.feed_down:
        text.append(f" {info.feed_down}", style="red")
    text.append(f"  {health.endpoint} ", style="dim")
    text.append(f" {health.mode} ", style="bold reverse")
    text.append(f"  {health.message_rate(now):.1f} msg/s")
    text.append(f"  last {format_age(health.message_age(now))}")
    text.append(f"  reconnects {health.reconnects}")
    if health.bad_messages > 0:
        text.append(f"  {bad_messages_label(health.bad_messages)}", style=BAD_STYLE)
    if health.clock_skew is not None and abs(health.clock_skew) >= CLOCK_SKEW_WARN_S:
        text.append(f"  ⚠ clock {health.clock_skew:+.1f}s", style=BAD_STYLE)
    if info.store is not None:
        text.append(f"  ⚠ {_cut(info.store, STORE_LIMIT)}", style=BAD_STYLE)
    if info.paused:
        text.append(f"  PAUSED +{info.pending} updates ", style="bold black on yellow")
    clock = datetime.fromtimestamp(now, tz).strftime("%H:%M:%S")
    text.append(f"  {clock} {info.timezone}", style="dim")
    text.append("  ? help", style="dim")
    return text


def attempt_text(health: Health, now: float) -> str:
    """`attempt 3, retry in 4s` while the attempt waits; `connecting, attempt 3, 12s` once it is
    in flight (never `retry in 0s` for as long as the connect takes)."""
    started = health.attempt_started_at(now)
    if started is not None:
        return f"connecting, attempt {health.attempt}, {format_age(now - started)}"
    if health.next_retry_at is None:
        return f"attempt {health.attempt}"
    return f"attempt {health.attempt}, retry in {format_age(max(0.0, health.next_retry_at - now))}"


def bad_messages_label(count: int) -> str:
    """`⚠ 3 bad msgs`: the skipped-message counter as the status bar shows it."""
    return f"⚠ {count} bad msg{'' if count == 1 else 's'}"


def safe_reason(reason: str) -> str:
    """A reason that may carry server text, made safe to show: one line, printable, bounded."""
    cleaned = "".join(char if char.isprintable() else " " for char in reason).strip()
    return cleaned if len(cleaned) <= REASON_LIMIT else cleaned[: REASON_LIMIT - 1] + "…"


def bad_messages_detail(health: Health) -> Text | None:
    """What the bad-messages counter means and why the newest message was skipped, or None.

    A Text, never a markup string: the reason can carry text from the server.
    """
    count = health.bad_messages
    if count <= 0:
        return None
    text = Text()
    text.append(f"{count} malformed or unexpected server message{'' if count == 1 else 's'} skipped ")
    text.append("(never applied to the charts).\nLast: ")
    text.append(safe_reason(health.last_bad_reason) or "no reason given", style="bold")
    return text


def banner_text(
    health: Health, info: StatusInfo, now: float, sandbox: bool = False, views: Sequence[WatchView] = ()
) -> str | None:
    """A full sentence about a problem the user must act on, or None when all is well.

    `views` are those of every watched key: when all of them failed, nothing can ever stream.
    """
    state = connection_state(health, info)
    if state is ConnectionState.AUTH_FAILED:
        code = f" ({health.last_code})" if health.last_code else ""
        env = "SANDBOX_TOKEN_STRING" if sandbox else "TINKOFF_TOKEN_STRING"
        return (
            f"Token rejected{code}: {health.last_reason or 'unauthenticated'}. "
            f"Set {env} (or connection.token_file) and run `monitor check`; press r to retry."
        )
    if state is ConnectionState.DOWN:
        reason = info.feed_down or health.last_reason or "stopped"
        return f"Feed stopped: {reason}. Press r to restart it; details are in the log file."
    if state is ConnectionState.RECONNECTING and health.attempt >= LONG_OUTAGE_ATTEMPTS:
        since, started = health.silent_since(), health.attempt_started_at(now)
        if started is not None:
            wait = f" Attempt {health.attempt} connecting for {format_age(now - started)}."
        elif health.next_retry_at is not None:
            wait = f" Next try in {format_age(health.next_retry_at - now)}."
        else:
            wait = ""
        lasting = f" for {format_age(now - since)}" if since is not None else ""
        return (
            f"No connection to {health.endpoint}{lasting} ({health.last_reason or 'unreachable'}). "
            f"Check your network or proxy.{wait} Press r to retry now."
        )
    if views and all(view.state is WatchState.FAILED for view in views):
        reasons = sorted({view.reason or "failed" for view in views})
        return (
            f"No instrument could be subscribed ({'; '.join(reasons)}). "
            "Check the ids in the watchlist file, or press a to search and add one."
        )
    return None


class StatusBar(Widget):
    """One line at the bottom; `show` refreshes only when the text changed.

    Its tooltip explains the bad-messages counter with the last skip reason; `show_health`
    rebuilds it only when the health model's version moved.
    """

    DEFAULT_CSS = """
    StatusBar {
        dock: bottom;
        height: 1;
        background: $panel;
        color: $text;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.text = Text()
        self.detail: Text | None = None
        """The tooltip: why messages were skipped (None while none was)."""
        self._health_version: int | None = None

    def show(self, text: Text) -> None:
        if text != self.text:
            self.text = text
            self.refresh()

    def show_health(self, health: Health) -> None:
        """Updates the tooltip from `health`, only when its version moved since the last call."""
        if health.version == self._health_version:
            return
        self._health_version = health.version
        detail = bad_messages_detail(health)
        if detail != self.detail:
            self.detail = detail
            self.tooltip = detail

    def render(self) -> Text:
        return self.text


class Banner(Widget):
    """The problem banner above the panels; hidden while there is nothing to say."""

    DEFAULT_CSS = """
    Banner {
        dock: top;
        height: auto;
        display: none;
        background: $error 25%;
        color: $text;
        border: heavy $error;
        padding: 0 1;
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.message: str | None = None

    def show(self, message: str | None) -> None:
        if message != self.message:
            self.message = message
            self.display = message is not None
            self.refresh(layout=True)

    def render(self) -> Text:
        return Text(f"⚠ {self.message or ''}", style="bold")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"
