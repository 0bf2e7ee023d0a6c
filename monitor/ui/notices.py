"""Notices beside the status text: the log being off (a full disk), why the channel cannot connect."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text

from monitor.feed import ConnectionState, Health
from monitor.logging import log_failure

MARK = "⚠ no log"
MARK_STYLE = "bold yellow"


class LogNotice:
    """Adds MARK to the status line once the log file failed; tells the reason once with `notify`.

    The monitor goes on without a log (monitor.logging.LogFile): nothing else would show it, as
    the log is where trouble is told.
    """

    def __init__(
        self, notify: Callable[[str], object], failure: Callable[[], str | None] = log_failure
    ) -> None:
        self._notify = notify
        self._failure = failure
        self.told = False

    def mark(self, status: Text) -> Text:
        """`status`, with MARK appended while the log is off."""
        failure = self._failure()
        if failure is None:
            return status
        if not self.told:
            self.told = True
            self._notify(f"Logging stopped: {failure}. The monitor goes on without a log.")
        status.append(f"  {MARK}", style=MARK_STYLE)
        return status


def channel_banner(health: Health) -> str | None:
    """The banner while the channel cannot connect and the reason is known (DNS, refused, TLS).

    From the first failure on: the outage banner (status_bar.banner_text) waits for the third
    attempt, and before it the status bar only said CONNECTING or RECONNECTING.
    """
    problem = health.channel_problem
    if problem is None or health.state not in (ConnectionState.CONNECTING, ConnectionState.RECONNECTING):
        return None
    return f"Cannot connect to {health.endpoint}: {problem}. Retrying on its own; press r to retry now."
