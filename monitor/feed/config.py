"""FeedConfig: the plain, frozen settings the feed runs with (no pydantic in the hot path)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from monitor.endpoints import PROD_ENDPOINT

if TYPE_CHECKING:
    from monitor.pb.marketdata_pb2 import MarketDataResponse
    from monitor.settings import Settings


WALL_FLOOR_S = 5.0
"""Wall seconds under which the watchdog never gives up on a stream (stale, or not confirmed): well
above a scheduling pause of the loop (a slow render or a GC, under a second), well below the 45 s
of three missed pings and the 20 s connect timeout."""


@dataclass(frozen=True, slots=True)
class FeedConfig:
    """Everything the feed needs to connect, subscribe and watch its streams.

    The token is excluded from `repr` so that logging a config can never leak it.
    """

    endpoint: str = PROD_ENDPOINT
    token: str = field(default="", repr=False)
    plaintext: bool = False
    ca_file: str | None = None
    app_name: str = "monitor"
    keepalive_time_ms: int = 60_000
    keepalive_timeout_ms: int = 20_000
    ping_delay_ms: int = 15_000
    connect_timeout_s: float = 20.0
    history_candles: int = 200
    max_candles: int = 50_000
    """Most candles one series holds (CandleSeries.capacity), trimmed on the side away from the view."""
    max_streams: int = 4
    subscriptions_per_stream: int = 300
    """Candle subscriptions one stream may hold before the next stream is opened (API limit: 300)."""
    reconcile_interval_s: float = 60.0
    stale_after_s: float | None = None
    instrument_max_age_s: float = 86_400.0
    """Age under which an instrument saved in the cache is used without asking the API again."""
    mode: str = "LIVE API"
    """DEMO (built-in simulator), SANDBOX or LIVE API: shown on the status bar."""
    on_raw: Callable[[MarketDataResponse, float], None] | None = field(
        default=None, repr=False, compare=False
    )
    """Told every stream message with its receive time, first thing on the receive loop (a
    recorder's tap): it must only queue, never block."""

    @property
    def stale_after(self) -> float:
        """Seconds of silence (pings included) after which a stream counts as dead."""
        if self.stale_after_s is not None:
            return self.stale_after_s
        return 3 * self.ping_delay_ms / 1000

    def stale_bound(self, speed: float = 1.0) -> float:
        """The watchdog's silence bound in clock seconds on a clock `speed` times wall time.

        Silence is about the network and our own scheduling, which run on wall time: a simulator
        at 600x pings every 25 ms of wall time, and a 75 ms pause of the loop (a render, a GC)
        must not read as a dead stream. So the derived bound (3 pings) is at least
        WALL_FLOOR_S of wall time; an explicit `stale_after_s` is taken as given.
        """
        if self.stale_after_s is not None:
            return self.stale_after_s
        return max(self.stale_after, WALL_FLOOR_S * speed)

    def open_bound(self, speed: float = 1.0) -> float:
        """Clock seconds a new stream gets to be confirmed: `connect_timeout_s`, and at least
        WALL_FLOOR_S of wall time (20 sim seconds are 33 ms at 600x: every demo start timed out)."""
        return max(self.connect_timeout_s, WALL_FLOOR_S * speed)

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        endpoint: str | None = None,
        token: str | None = None,
        mode: str | None = None,
    ) -> FeedConfig:
        """Builds a config from the app settings; the keyword arguments override them (e.g. DEMO).

        Args:
            settings: the loaded Settings (read only).
            endpoint: overrides `connection.endpoint` (the simulator's loopback address).
            token: overrides the resolved token.
            mode: overrides the mode derived from `connection.sandbox`.
        """
        conn, feed = settings.connection, settings.feed
        if token is None:
            secret = settings.resolved_token()
            token = secret.get_secret_value() if secret is not None else ""
        if mode is None:
            mode = "SANDBOX" if conn.sandbox else "LIVE API"
        return cls(
            endpoint=endpoint if endpoint is not None else conn.endpoint,
            token=token,
            # The built-in simulator listens on loopback without TLS (open_channel enforces loopback).
            plaintext=conn.plaintext or mode == "DEMO",
            ca_file=str(conn.ca_file) if conn.ca_file is not None else None,
            app_name=conn.app_name,
            keepalive_time_ms=conn.keepalive_time_ms,
            keepalive_timeout_ms=conn.keepalive_timeout_ms,
            ping_delay_ms=conn.ping_delay_ms,
            connect_timeout_s=conn.connect_timeout_s,
            history_candles=feed.history_candles,
            max_candles=feed.max_candles,
            max_streams=feed.max_streams,
            subscriptions_per_stream=feed.subscriptions_per_stream,
            reconcile_interval_s=feed.reconcile_interval_s,
            stale_after_s=feed.stale_after_s,
            instrument_max_age_s=feed.instrument_refresh_s,
            mode=mode,
        )
