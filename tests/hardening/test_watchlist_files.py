"""The user's watchlist file: bounded reads (no device, FIFO or giant file), links written through,
read-only files left alone, each with a one-line message."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from monitor.market import Interval, WatchKey
from monitor.watchlist import (
    MAX_BYTES,
    SetInterval,
    SetLayout,
    WatchlistError,
    WatchlistReadOnly,
    load_watchlists,
    save_changes,
    save_watchlists,
    set_layout,
)

REPO = Path(__file__).resolve().parents[2]
TEXT = '# mine\n[[lists]]\nname = "a"\ninstruments = [\n    "SBER_TQBR",  # note\n]\n'
MEMORY_CAP = 1 << 30
"""The CLI runs under a 1 GiB address-space limit: an unbounded read of /dev/zero hits it quickly."""


def limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))


def run_monitor(tmp_path: Path, watchlist: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_") and "TOKEN" not in k}
    env |= {
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(tmp_path / "c"),
        "XDG_STATE_HOME": str(tmp_path / "s"),
    }
    return subprocess.run(
        [sys.executable, "-m", "monitor", "tui", "--watchlist", str(watchlist)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,  # a FIFO read hung for ever before: this bounds the test, it is not a wait
        preexec_fn=limit_memory,
        stdin=subprocess.DEVNULL,
    )


def special(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / f"{kind}.toml"
    if kind == "dev-zero":
        path.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "directory":
        path.mkdir()
    else:
        path.write_text(TEXT + "#" * (MAX_BYTES + 1) + "\n")
    return path


WHY = {
    "dev-zero": "cannot read: a device, not a watchlist file",
    "fifo": "cannot read: a FIFO, not a watchlist file",
    "directory": "cannot read: a directory, not a watchlist file",
    "huge": "cannot read: larger than 1 MiB",
}


@pytest.mark.parametrize("kind", list(WHY))
def test_the_monitor_refuses_a_special_or_huge_watchlist_with_one_line(tmp_path: Path, kind: str) -> None:
    path = special(tmp_path, kind)
    result = run_monitor(tmp_path, path)
    assert result.returncode != 0
    assert result.stderr == f"monitor: error: {path}: {WHY[kind]}\n"


@pytest.mark.parametrize("kind", list(WHY))
def test_loading_and_saving_never_read_a_special_file(tmp_path: Path, kind: str) -> None:
    path = special(tmp_path, kind)
    done = threading.Event()
    errors: list[str] = []

    def attempt() -> None:
        for action in (
            lambda: load_watchlists(path),
            lambda: save_changes(path, [SetLayout("a", "1")]),
        ):
            try:
                action()
            except WatchlistError as exc:
                errors.append(str(exc))
        done.set()

    threading.Thread(target=attempt, daemon=True).start()
    assert done.wait(30), "a read blocked"
    assert errors == [f"{path}: {WHY[kind]}"] * 2


def test_a_save_writes_through_a_chain_of_links(tmp_path: Path) -> None:
    real = tmp_path / "repo" / "watchlist.toml"
    real.parent.mkdir()
    real.write_text(TEXT)
    middle = tmp_path / "middle.toml"
    middle.symlink_to(real)
    link = tmp_path / "cfg" / "watchlist.toml"
    link.parent.mkdir()
    link.symlink_to(Path("..") / "middle.toml")
    save_changes(link, [SetInterval("a", WatchKey("SBER_TQBR"), Interval.H1)])
    assert link.is_symlink() and middle.is_symlink()
    assert real.read_text() == TEXT.replace('"SBER_TQBR",', '{ id = "SBER_TQBR", interval = "1h" },')
    save_watchlists(link, set_layout(load_watchlists(link), "a", "3x3"))
    assert link.is_symlink() and 'layout = "3x3"' in real.read_text()
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "cfg",
        "middle.toml",
        "repo",
        "watchlist.toml",
        "watchlist.toml",
    ]


def test_a_read_only_file_is_never_replaced_even_by_root(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text(TEXT)
    path.chmod(0o444)
    for save in (
        lambda: save_changes(path, [SetLayout("a", "1")]),
        lambda: save_watchlists(path, set_layout(load_watchlists(path), "a", "1")),
    ):
        with pytest.raises(
            WatchlistReadOnly, match=r"w\.toml: the file is read-only; it is not overwritten$"
        ):
            save()
    assert path.read_text() == TEXT and path.stat().st_mode & 0o777 == 0o444
    assert [p.name for p in tmp_path.iterdir()] == ["w.toml"]
