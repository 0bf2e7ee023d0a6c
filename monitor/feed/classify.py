"""How a stream ended and what the supervisor does about it: retry, slow retry, fatal or quiet."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum

import grpc

from monitor.feed.codes import api_code
from monitor.feed.health import ConnectionState

SLOW_RETRY_S = 120.0  # 80001: the open-stream counter refreshes every 2 minutes
RATE_LIMIT_DEFAULT_S = 60.0
_RETRY_STATUSES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.ABORTED,
        grpc.StatusCode.CANCELLED,
    }
)
_FATAL_STATUSES = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})


class Action(Enum):
    """What the supervisor does after a stream ended."""

    RETRY = "retry"  # backoff curve
    SLOW = "slow"  # wait at least `Verdict.min_delay` (80001, 80002)
    FATAL = "fatal"  # stop until reconnect_now()
    QUIET = "quiet"  # we closed it: no reconnect, no event


@dataclass(frozen=True, slots=True)
class Verdict:
    """The classification of a stream end."""

    action: Action
    reason: str
    code: str | None = None
    min_delay: float = 0.0
    state: ConnectionState = ConnectionState.RECONNECTING
    routine: bool = False
    """The server ended a healthy stream as a matter of course (80005, its lifetime is up): after
    a stable stream the reconnect goes out at once rather than after a backoff delay."""


@dataclass(slots=True)
class Ending:
    """How one call ended, as observed (the input of `classify`)."""

    status: grpc.StatusCode | None = None
    """None for a clean end of stream (EOF with OK)."""
    details: str = ""
    trailing: tuple[tuple[str, str], ...] = ()
    cancelled_by_us: str | None = None
    """Why we cancelled the call ourselves (close, stale, open deadline, reconnect_now)."""
    confirmed_at: float | None = None
    """Clock time of the first confirmed subscription on this call."""
    ended_at: float = 0.0


def _trailer(trailing: Iterable[tuple[str, str]], key: str) -> str | None:
    return next((value for name, value in trailing if name.lower() == key), None)


def classify(ending: Ending, *, holding: bool) -> Verdict:
    """Retry, slow retry, fatal or quiet for a stream end (style rule 6, stream-recovery §4.6-7).

    Args:
        ending: what was observed when the call ended.
        holding: whether the feed still wants subscriptions on this stream (80004 rule).
    """
    ours = ending.cancelled_by_us
    if ours is not None:
        return Verdict(Action.QUIET, ours) if ours == "closed" else Verdict(Action.RETRY, ours)
    status, details = ending.status, ending.details
    code = api_code(details, ending.trailing)
    message = _trailer(ending.trailing, "message") or details
    if status is None or status is grpc.StatusCode.OK:
        return Verdict(Action.RETRY, "stream ended by the server")
    name = status.name
    if status in _FATAL_STATUSES:
        return Verdict(Action.FATAL, f"{name}: {message}", code, state=ConnectionState.AUTH_FAILED)
    if status is grpc.StatusCode.RESOURCE_EXHAUSTED:
        if code == "80001":
            return Verdict(Action.SLOW, "too many open streams", code, SLOW_RETRY_S)
        if code == "80002":
            reset = _trailer(ending.trailing, "x-ratelimit-reset")
            try:
                wait = float(reset) if reset is not None else RATE_LIMIT_DEFAULT_S
            except ValueError:
                wait = RATE_LIMIT_DEFAULT_S
            return Verdict(Action.SLOW, "request limit exceeded", code, max(1.0, wait))
        if code == "80004":
            reason = "no active subscriptions"
            return Verdict(Action.RETRY if holding else Action.QUIET, reason, code)
        if code == "80005":
            return Verdict(Action.RETRY, "stream lifetime too long", code, routine=True)
        return Verdict(Action.SLOW, f"{name}: {message}", code, RATE_LIMIT_DEFAULT_S)
    if status in _RETRY_STATUSES:
        return Verdict(Action.RETRY, f"{name}: {message}", code)
    # INVALID_ARGUMENT, UNIMPLEMENTED and the like will not heal by themselves, but the endpoint
    # may be mid-deploy: retry on the (growing) backoff curve rather than give up for good.
    return Verdict(Action.RETRY, f"{name}: {message}", code)
