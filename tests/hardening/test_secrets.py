"""The token never shows: screen, snapshots, errors, `monitor check`, reprs, log file; plaintext rules."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import pytest

import monitor.cli as cli
from monitor.feed.channel import open_channel
from monitor.feed.config import FeedConfig
from monitor.settings import Settings, SettingsError, load_settings
from tests.test_cli_hardening import monitor

TOKEN = "t." + "SECRETsecret" * 4 + "XYZ_-09"  # token-shaped, built at run time
SHAPE = re.compile(r"t\.[A-Za-z0-9_-]{40,}")
REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.usefixtures("clean_env", "restore_logging")


def test_reprs_and_dumps_hide_the_token() -> None:
    settings = Settings(connection={"token": TOKEN})  # type: ignore[arg-type]
    config = FeedConfig.from_settings(settings)
    assert config.token == TOKEN
    for text in (
        repr(settings),
        str(settings),
        str(settings.model_dump()),
        settings.model_dump_json(),
        repr(config),
        str(config),
    ):
        assert TOKEN not in text


@pytest.mark.parametrize(
    "text",
    [
        f'[connection]\ntoken = "{TOKEN}"\nendpoint = "no port"\n',
        f'[connection]\ntoken = "{TOKEN}\n',
        f"[connection]\ntoken = {TOKEN}\n",
        f'[connection]\ntoken = ["{TOKEN}"]\n',
        f'[connection]\ntoken = "{TOKEN}"\nplaintext = true\nendpoint = "example.com:443"\n',
    ],
)
def test_settings_errors_never_echo_the_token(tmp_path: Path, text: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(text)
    with pytest.raises(SettingsError) as info:
        load_settings(config_file=path)
    assert TOKEN not in str(info.value) and TOKEN not in repr(info.value)


def test_channel_errors_never_echo_the_token(tmp_path: Path) -> None:
    """Plaintext to a remote host is refused; a missing CA file: neither message holds the token."""
    with pytest.raises(ValueError, match="plaintext is only allowed") as refused:
        open_channel(FeedConfig(endpoint="example.com:443", token=TOKEN, plaintext=True))
    with pytest.raises(OSError) as missing:
        open_channel(FeedConfig(endpoint="example.com:443", token=TOKEN, ca_file=str(tmp_path / "no.pem")))
    for exc in (refused.value, missing.value):
        assert TOKEN not in str(exc) and TOKEN not in repr(exc)


def test_cli_failure_redacts_stderr_and_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """An unexpected error carrying the token: the one-line message and the logged traceback hide it."""
    import monitor.cli.check

    def boom(args: object) -> int:
        raise RuntimeError(f"server said: bad token {TOKEN} (Bearer {TOKEN})")

    monkeypatch.setattr(monitor.cli.check, "run", boom)
    monkeypatch.setenv("TINKOFF_TOKEN_STRING", TOKEN)
    log = tmp_path / "log.jsonl"
    parser_args = ["check", "--endpoint", "127.0.0.1:1", "--plaintext", "--log-file", str(log)]
    assert cli.main(parser_args) == 1
    err = capsys.readouterr().err
    assert "RuntimeError: server said: bad token ***" in err and TOKEN not in err
    text = log.read_text()
    assert "command_failed" in text and "Traceback" in text and TOKEN not in text


def test_token_file_readable_by_others_warns_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    token_file.chmod(0o640)
    _, notices = load_settings({"connection": {"token_file": token_file}})
    assert any("readable by group/others" in n and "chmod 600" in n for n in notices)
    token_file.chmod(0o600)
    _, notices = load_settings({"connection": {"token_file": token_file}})
    assert not any(n.startswith("warning:") for n in notices)
    assert all(TOKEN not in n for n in notices)


async def test_check_output_redacts_a_token_echoed_by_the_server() -> None:
    """`monitor check` prints server details; a server echoing the token still shows ***."""
    from monitor.cli.check import Report

    out = io.StringIO()
    report = Report(out, TOKEN)
    report.failed("auth", 0.0, f"token rejected (UNAUTHENTICATED 40003 {TOKEN})", [])
    report.line(f"ERROR  X  INTERNAL Bearer {TOKEN}")
    assert TOKEN not in out.getvalue() and "***" in out.getvalue()


@pytest.mark.timeout(30)
async def test_screen_and_status_bar_never_show_the_token(tmp_path: Path) -> None:
    """The app on the real feed against a simulator that accepts the token: not on screen."""
    from monitor.feed.supervisor import Feed
    from monitor.sim import SimConfig, SimServer
    from monitor.ui.app import make_app
    from monitor.watchlist import load_watchlists
    from tests.ui.uikit import SIZE, settle, wait_for

    path = tmp_path / "w.toml"
    path.write_text('[[lists]]\nname = "main"\nlayout = "1x2"\ninstruments = ["SBER_TQBR", "GAZP_TQBR"]\n')
    settings = Settings(connection={"token": TOKEN})  # type: ignore[arg-type]
    async with SimServer(SimConfig(host="127.0.0.1", tokens=(TOKEN,))) as sim:
        config = dataclasses.replace(FeedConfig.from_settings(settings, endpoint=sim.address), plaintext=True)
        feed = Feed(config=config)
        app = make_app(settings, load_watchlists(path), path, feed, watch_file=False)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await wait_for(pilot, lambda: "LIVE" in app.status_bar.text.plain, rounds=1000)
                await settle(pilot, app)
                assert TOKEN not in app.status_bar.text.plain
                assert TOKEN not in app.export_screenshot()
                await pilot.press("q")
        finally:
            await feed.close()


def test_snapshots_hold_no_token_shaped_string() -> None:
    snapshots = list((REPO / "tests" / "ui" / "__snapshots__").glob("**/*.svg"))
    assert snapshots
    for svg in snapshots:
        assert not SHAPE.search(svg.read_text(encoding="utf-8")), svg


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MONITOR_CONNECTION", f'{{"token": "{TOKEN}", '),
        ("MONITOR_UI", "notjson"),
        ("MONITOR_FEED", "[1,"),
        ("MONITOR_UI__KEYS", "notjson"),
    ],
    ids=["connection-token", "ui", "feed", "ui-keys"],
)
@pytest.mark.parametrize("command", [["check"], ["stream", "SBER_TQBR"], ["tui"]])
def test_malformed_env_json_is_one_line_without_the_token(
    tmp_path: Path, variable: str, value: str, command: list[str]
) -> None:
    """Raised before logging is set up, it used to reach structlog's default: a traceback with locals."""
    run = monitor(command, tmp_path, **{variable: value, "TINKOFF_TOKEN_STRING": TOKEN})
    assert run.returncode == 2
    assert run.stdout == ""
    assert run.stderr.startswith(f"monitor: error: environment {variable}: not valid JSON")
    assert run.stderr.count("\n") == 1
    assert TOKEN not in run.stdout + run.stderr and "Traceback" not in run.stderr


def test_memory_error_before_logging_is_one_line_on_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def out_of_memory(args: object) -> object:
        raise MemoryError

    monkeypatch.setattr(cli, "settings_from_args", out_of_memory)
    assert cli.main(["check"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "monitor: error: MemoryError\n"


def test_error_outside_any_command_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken() -> object:
        raise MemoryError(f"while holding {TOKEN}")

    monkeypatch.setattr(cli, "build_parser", broken)
    assert cli.main(["check"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == "monitor: error: MemoryError: while holding ***\n"


def test_a_token_with_a_bad_character_is_named_not_shown(tmp_path: Path) -> None:
    bad = TOKEN[:20] + "\u00e9" + TOKEN[20:]
    run = monitor(["check"], tmp_path, TINKOFF_TOKEN_STRING=bad)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr == (
        "monitor: error: the token in TINKOFF_TOKEN_STRING has a non-ASCII character at position 21: "
        "a token is ASCII letters, digits and punctuation (copy it again)\n"
    )
    assert TOKEN[:20] not in run.stdout + run.stderr
