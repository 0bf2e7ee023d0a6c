"""The real `monitor` in tmux: a log on /dev/full, and the palette paged right after typing."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.tmuxkit import exit_status, isolated_env, require_tmux, tmux_session, write_watchlist

pytestmark = pytest.mark.timeout(90)
DEADLINE_S = 60.0
PALETTE = "🔎"
"""The palette's input prompt: on the screen while the palette is open."""


def test_tui_with_the_log_on_dev_full_and_a_paged_palette(tmp_path: Path) -> None:
    """The log takes no line: the TUI still goes LIVE, says `⚠ no log`, nothing is printed over it.
    Then ctrl+p, a letter and PageDown in one terminal write, five times (Textual's OptionList
    raised KeyError: 0 there: a traceback and exit 1); q still quits with 0."""
    require_tmux()
    deadline = time.monotonic() + DEADLINE_S
    watchlist = write_watchlist(tmp_path)
    args = ["--watchlist", str(watchlist), "--log-file", "/dev/full", "--sim-speed", "60"]
    with tmux_session(isolated_env(tmp_path, token=None)) as tmux:
        tmux.start(args)
        screen = tmux.wait(lambda text: "LIVE" in text and "no log" in text, deadline, "LIVE and ⚠ no log")
        assert "Logging error" not in screen and "Traceback" not in screen
        assert "Logging stopped: cannot write the log file /dev/full" in screen  # the one notification
        for letter in "iqstw":
            tmux.send("C-p", letter, "PageDown", "PageDown", "PageUp")  # one write: one burst
            tmux.wait(lambda text: "key:" in text, deadline, f"the palette's matches for {letter}")
            tmux.send("Escape")
            # A lone Esc is told from an Alt sequence only by the pause after it: wait for it to land.
            tmux.wait(lambda text: PALETTE not in text, deadline, "the palette closed")
        tmux.send("q")
        final = tmux.wait(lambda text: exit_status(text) is not None, deadline, "the exit")
        history = tmux.history()
    assert exit_status(final) == 0, history
    assert "Traceback" not in history and "KeyError" not in history
    # Said once on stderr too, before the TUI took the screen; left there after it quit.
    assert history.count("cannot write the log file /dev/full (No space left on device)") == 1, history
