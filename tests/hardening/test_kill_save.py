"""Saving a watchlist while the process is SIGKILLed leaves the old or the new file, never a broken one."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from monitor.watchlist import load_watchlists

REPO = Path(__file__).resolve().parents[2]
OLD = (
    '# keep me\n[[lists]]\nname = "a"\ninstruments = [\n'
    + "".join(f'  "O{i:03d}_TQBR",\n' for i in range(300))
    + "]\n"
)
SAVER = """
import sys
from pathlib import Path
from monitor.market import WatchKey
from monitor.watchlist import Watchlist, Watchlists, save_watchlists
path = Path(sys.argv[1])
new = Watchlists((Watchlist("a", entries=tuple(WatchKey(f"N{i:03d}_TQBR") for i in range(300))),), "a")
print("ready", flush=True)
while True:
    save_watchlists(path, new)
"""


@pytest.mark.parametrize("via_link", [False, True], ids=["file", "symlink"])
def test_sigkill_during_save_never_breaks_the_file(tmp_path: Path, via_link: bool) -> None:
    """20 saver processes killed at random moments: the file always loads, as old or new content.

    Through a symlink the link stays a link and only its target's directory gets temp files.
    """
    path = target = tmp_path / "watchlist.toml"
    if via_link:
        target = tmp_path / "dotfiles" / "watchlist.toml"
        target.parent.mkdir()
        path = tmp_path / "link.toml"
        path.symlink_to(target)
    rng = random.Random(5)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    outcomes = set()
    for _ in range(20):
        target.write_text(OLD)
        proc = subprocess.Popen(
            [sys.executable, "-c", SAVER, str(path)], stdout=subprocess.PIPE, env=env, text=True
        )
        try:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
            # A random moment inside the save loop (a few saves take about this long).
            deadline = time.monotonic() + rng.uniform(0.0, 0.4)
            while time.monotonic() < deadline:
                pass
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(5)
        entries = load_watchlists(path).active_list.entries
        ids = {e.id[0] for e in entries}
        assert ids in ({"O"}, {"N"}) and len(entries) == 300
        outcomes.add(ids.pop())
    assert path.is_symlink() == via_link
    # Temp files are `.watchlist.toml.*.tmp`: hidden and not `*.toml`, so no loader picks them up.
    leftovers = [p.name for p in target.parent.iterdir() if p.name != "watchlist.toml"]
    if via_link:
        assert sorted(p.name for p in tmp_path.iterdir()) == ["dotfiles", "link.toml"]
    assert all(name.startswith(".watchlist.toml.") and name.endswith(".tmp") for name in leftovers)
    assert "N" in outcomes
