"""The status bar's word that logging stopped (a full disk): one notification, then a short mark."""

from __future__ import annotations

from collections.abc import Callable

from rich.text import Text

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
