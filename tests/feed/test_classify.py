"""How a stream end is classified: retry, slow retry, fatal or quiet."""

from __future__ import annotations

import grpc
import pytest

from monitor.feed.classify import Action, Ending, classify
from monitor.feed.codes import api_code
from monitor.feed.health import ConnectionState

S = grpc.StatusCode


@pytest.mark.parametrize(
    ("status", "details"),
    [
        (None, ""),
        (S.OK, ""),
        (S.UNAVAILABLE, "GOAWAY received"),
        (S.INTERNAL, "70001"),
        (S.UNKNOWN, "Stream removed"),
        (S.DEADLINE_EXCEEDED, ""),
        (S.ABORTED, ""),
        (S.CANCELLED, "Received RST_STREAM with error code 8"),
        (S.RESOURCE_EXHAUSTED, "80005"),
    ],
)
def test_transient_ends_retry_on_the_curve(status: grpc.StatusCode | None, details: str) -> None:
    """Every non-fatal end takes the one reconnect path."""
    verdict = classify(Ending(status, details), holding=True)
    assert verdict.action is Action.RETRY
    assert verdict.state is ConnectionState.RECONNECTING


def test_80004_retries_only_while_holding_subscriptions() -> None:
    """No active subscriptions: reconnect if we still want some, else stay parked."""
    ending = Ending(S.RESOURCE_EXHAUSTED, "80004")
    assert classify(ending, holding=True).action is Action.RETRY
    assert classify(ending, holding=False).action is Action.QUIET
    assert classify(ending, holding=True).code == "80004"


def test_80001_waits_a_counter_refresh() -> None:
    """Stream limit: slow retry, at least two minutes."""
    verdict = classify(Ending(S.RESOURCE_EXHAUSTED, "80001"), holding=True)
    assert verdict.action is Action.SLOW
    assert verdict.min_delay >= 120
    assert verdict.code == "80001"


def test_80002_waits_the_ratelimit_reset() -> None:
    """Request limit: wait x-ratelimit-reset seconds from the trailers."""
    ending = Ending(S.RESOURCE_EXHAUSTED, "80002", (("x-ratelimit-reset", "37"),))
    verdict = classify(ending, holding=True)
    assert (verdict.action, verdict.min_delay) == (Action.SLOW, 37.0)


@pytest.mark.parametrize("status", [S.UNAUTHENTICATED, S.PERMISSION_DENIED])
def test_auth_failures_are_fatal(status: grpc.StatusCode) -> None:
    """A rejected token is shown and never spun on."""
    ending = Ending(status, "40003", (("message", "Authentication token is missing or invalid"),))
    verdict = classify(ending, holding=True)
    assert verdict.action is Action.FATAL
    assert verdict.state is ConnectionState.AUTH_FAILED
    assert verdict.code == "40003"
    assert "Authentication token" in verdict.reason


def test_our_own_cancel_is_quiet_but_stale_retries() -> None:
    """close() ends quietly; the watchdog's cancel is a retry with its reason."""
    assert classify(Ending(S.CANCELLED, "", cancelled_by_us="closed"), holding=True).action is Action.QUIET
    stale = classify(Ending(S.CANCELLED, "", cancelled_by_us="stale: no message for 46s"), holding=True)
    assert stale.action is Action.RETRY
    assert stale.reason.startswith("stale")


def test_api_code_from_details_or_message_trailer() -> None:
    """The numeric code is the details string, or inside the message trailer."""
    assert api_code("80002") == "80002"
    assert api_code("", (("message", "error 40003: token"),)) == "40003"
    assert api_code("Stream removed") is None
    # A failed connect names the address: its port is no API code.
    refused = "failed to connect to all addresses; last error: UNKNOWN: ipv4:127.0.0.1:39301: refused"
    assert api_code(refused) is None
    assert api_code("ipv6:[::1]:50051: Socket closed") is None
