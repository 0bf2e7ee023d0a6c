"""The package's shape: small modules with one-line docstrings, no test doubles, no dead code."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import TypeGuard

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "monitor"
MAX_LINES = 400

# The test doubles' module: only tests use it, so every name in it would be reported unused.
TEST_DOUBLES = PACKAGE / "feed" / "testing.py"

# Names vulture cannot see being used, and why. At 80 % confidence it reports only unused imports,
# unused arguments and unreachable code; the hook names matter once someone scans lower.
WHITELIST = {
    # Textual calls these by name.
    "action_*": "Textual key bindings",
    "on_*": "Textual message handlers",
    "compose": "Textual",
    "watch_*": "Textual reactive watchers",
    "validate_*": "Textual reactive validators",
    "compute_*": "Textual computed reactives",
    "render": "Textual",
    "render_line": "Textual's line API",
    "render_lines": "Textual's line API",
    "get_content_width": "Textual",
    "get_content_height": "Textual",
    "check_action": "Textual",
    # pydantic-settings calls its source hook with these keyword arguments, used or not.
    "settings_customise_sources": "pydantic-settings hook",
    "dotenv_settings": "a keyword argument of settings_customise_sources",
    "file_secret_settings": "a keyword argument of settings_customise_sources",
    # structlog calls every processor as processor(logger, method_name, event_dict).
    "logger": "a structlog processor's argument",
    "method_name": "a structlog processor's argument",
}


def _modules() -> list[Path]:
    """Every module of the package but the generated protobuf code, sorted."""
    return sorted(p for p in PACKAGE.rglob("*.py") if p.relative_to(PACKAGE).parts[0] != "pb")


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_no_module_is_over_400_lines() -> None:
    long = [f"{_rel(p)}: {n} lines" for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_LINES]
    assert not long, f"modules over {MAX_LINES} lines:\n" + "\n".join(long)


def _docstring_problem(path: Path) -> str | None:
    """Why the module does not open with a one-line docstring, or None when it does."""
    body = ast.parse(path.read_text(), filename=str(path)).body
    first = body[0] if body else None
    if not isinstance(first, ast.Expr) or not isinstance(first.value, ast.Constant):
        return "no module docstring"
    if not isinstance(first.value.value, str) or not first.value.value.strip():
        return "no module docstring"
    # One line that says what the module is; a longer explanation may follow after a blank line.
    lines = first.value.value.strip().splitlines()
    if not lines[0].rstrip().endswith((".", ":")):
        return f"the docstring's first line is not a whole sentence: {lines[0].strip()[:60]!r}"
    if len(lines) > 1 and lines[1].strip():
        return "the docstring's summary runs over more than one line"
    return None


def test_every_module_opens_with_a_one_line_docstring() -> None:
    bad = [f"{_rel(p)}: {problem}" for p in _modules() if (problem := _docstring_problem(p))]
    assert not bad, "module docstrings must open with a one-line summary:\n" + "\n".join(bad)


def test_the_ui_holds_no_test_double() -> None:
    fake = PACKAGE / "ui" / "fake.py"
    assert not fake.exists(), f"{_rel(fake)} exists: the test doubles live in monitor/feed/testing.py"


def _sets_grpc_verbosity(node: ast.AST) -> TypeGuard[ast.stmt | ast.expr]:
    """True for os.environ["GRPC_VERBOSITY"] = ..., os.environ.setdefault("GRPC_VERBOSITY", ...),
    os.putenv("GRPC_VERBOSITY", ...) and os.environ.update({"GRPC_VERBOSITY": ...})."""

    def named(expr: ast.expr | None) -> bool:
        return isinstance(expr, ast.Constant) and expr.value == "GRPC_VERBOSITY"

    if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return any(isinstance(t, ast.Subscript) and named(t.slice) for t in targets)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr in {"setdefault", "putenv"} and node.args:
            return named(node.args[0])
        if node.func.attr == "update":
            return any(isinstance(a, ast.Dict) and any(named(k) for k in a.keys) for a in node.args) or any(
                k.arg == "GRPC_VERBOSITY" for k in node.keywords
            )
    return False


def test_grpc_verbosity_is_set_once_in_the_package_init() -> None:
    found = [
        f"{_rel(path)}:{node.lineno}"
        for path in _modules()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path)))
        if _sets_grpc_verbosity(node)
    ]
    where = "\n".join(found) or "nowhere"
    assert len(found) == 1 and found[0].startswith("monitor/__init__.py:"), (
        f"GRPC_VERBOSITY must be set once, in monitor/__init__.py; it is set at:\n{where}"
    )


def test_a_dead_code_scan_finds_nothing() -> None:
    """vulture at 80 % over the package (generated code and the test doubles aside)."""
    files = [_rel(p) for p in _modules() if p != TEST_DOUBLES]
    command = [sys.executable, "-m", "vulture", *files, "--min-confidence", "80"]
    command += ["--ignore-names", ",".join(WHITELIST)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    # vulture exits 0 when clean, 3 when it found dead code; anything else is a failed scan.
    assert result.returncode in (0, 3), f"vulture failed ({result.returncode}):\n{result.stderr}"
    assert not result.stdout.strip(), "dead code (vulture --min-confidence 80):\n" + result.stdout
