"""The README's "Use the feed from Python" example runs as written and prints ten candles."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CANDLE_LINE = re.compile(r"^(SBER|GAZP) 1m \d+ C [\d.]+ (closed|forming)$")


def readme_example() -> str:
    """The first python code block under the "Use the feed from Python" heading."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Use the feed from Python", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.S)
    assert match is not None, "the README section has no python code block"
    return match[1]


def test_the_readme_example_prints_ten_candles_and_the_health(tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(readme_example(), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    candles = [line for line in lines if CANDLE_LINE.match(line)]
    assert len(candles) == 10, result.stdout
    assert "health: LIVE subscriptions confirmed" in lines
    assert lines[-1] == "health: DOWN closed"  # the feed closed on leaving its context
    assert all(line in candles or line.startswith("health: ") for line in lines), result.stdout
    assert (tmp_path / "feed-example.log").stat().st_size > 0  # logs went to the file, not stdout
