"""Where a bad setting came from (flag, environment variable or FILE:LINE), for one-line errors."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from monitor.tomlpos import find_line

ENV_PREFIX = "MONITOR_"


def env_name(loc: tuple[str | int, ...]) -> str:
    """The environment variable of a settings location: ("ui", "theme") -> MONITOR_UI__THEME."""
    return ENV_PREFIX + "__".join(str(part).upper() for part in loc)


def describe_errors(exc: ValidationError, path: Path, text: str | None, overrides: Mapping[str, Any]) -> str:
    """One line per error naming where the bad value came from: CLI flag, env var or file:line."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        loc = tuple(error["loc"])
        # An odd key (a newline, a space) is quoted so the message stays one line.
        field = ".".join(_key_text(part) for part in loc) or "settings"
        where = _origin(loc, path, text, overrides)
        lines.append(f"{where}: {field}: {error['msg']}")
    return "; ".join(lines)


def describe_source_error(exc: Exception, json_vars: Collection[str]) -> str:
    """pydantic-settings' own error for an environment value it cannot parse, as one safe line.

    Its message names only the top field ("ui"), so the variable at fault is found again among
    `json_vars` (those that must hold JSON: MONITOR_UI, MONITOR_UI__KEYS…). The reason is the
    JSON error's position, never the value: it may hold the token.
    """
    match = re.search(r'field "([^"]+)"', str(exc))
    section = env_name((match[1],)) if match else ENV_PREFIX.rstrip("_")
    for name in sorted(n for n in json_vars if n == section or n.startswith(section + "__")):
        if name in os.environ:
            try:
                json.loads(os.environ[name])
            except json.JSONDecodeError as error:
                return (
                    f"environment {name}: not valid JSON ({error.msg} at column {error.colno}); "
                    f"set one value with {name}__KEY=VALUE instead"
                )
    return f"environment {section}: not valid JSON; set one value with {section}__KEY=VALUE instead"


def _key_text(part: str | int) -> str:
    text = str(part)
    return text if re.fullmatch(r"[A-Za-z0-9_\-]+", text) else repr(text)


def _origin(loc: tuple[str | int, ...], path: Path, text: str | None, overrides: Mapping[str, Any]) -> str:
    if _has(overrides, loc):
        return "command line"
    # A model-level error (loc = ("connection",)) may come from any source; env first, as it wins.
    for name in (env_name(loc[:n]) for n in range(len(loc), 0, -1)):
        if name in os.environ:
            return f"environment {name}"
    if text is not None:
        line = find_line(text, loc)
        return f"{path}:{line}" if line else str(path)
    return "settings"


def _has(data: Mapping[str, Any], loc: tuple[str | int, ...]) -> bool:
    current: Any = data
    for part in loc:
        if not isinstance(current, Mapping) or part not in current:
            return False
        current = current[part]
    return True
