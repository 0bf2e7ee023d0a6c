"""Logging: JSON lines to the file, stdlib routed there too, secrets redacted, nothing on the terminal."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.logging import WHOLE_RUN_BELOW, Redactor, configure_logging, log_failure, written_forms
from monitor.settings import LogSettings

TOKEN = "t." + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-" * 2  # token-shaped, built at run time
OTHER = "t." + "Z" * 50


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "monitor.log"


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """Puts logging back as it was, the log file monitor.logging knows of (and its failure) too."""
    import monitor.logging as monitor_logging

    root = logging.getLogger()
    handlers, level, current = list(root.handlers), root.level, monitor_logging._current
    yield
    monitor_logging._current = current
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
            handler.close()
    root.setLevel(level)
    logging.captureWarnings(False)
    structlog.reset_defaults()


def read(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_token_never_reaches_the_file(log_file: Path, capfd: pytest.CaptureFixture[str]) -> None:
    configure_logging(LogSettings(file=log_file, level="debug"), token=TOKEN, cache=False)
    log = structlog.get_logger("test")
    log.info("direct", token=TOKEN, nested={"auth": f"Bearer {TOKEN}"})
    log.info(f"in the event {TOKEN}")
    try:
        raise RuntimeError(f"failed with authorization: Bearer {TOKEN}")
    except RuntimeError:
        log.exception("boom")
    logging.getLogger("grpc._cython").error("metadata %s", [("authorization", f"Bearer {TOKEN}")])
    try:
        raise ValueError(TOKEN)
    except ValueError:
        logging.getLogger("asyncio").exception("loop error")
    log.info("shaped", other=OTHER, header="Bearer something-secret")

    text = log_file.read_text()
    assert TOKEN not in text
    assert OTHER not in text
    assert "something-secret" not in text
    events = read(log_file)
    assert [e["event"] for e in events] == [
        "direct",
        "in the event ***",
        "boom",
        "metadata [('authorization', 'Bearer ***')]",
        "loop error",
        "shaped",
    ]
    assert events[0]["token"] == "***" and events[0]["level"] == "info"
    assert "RuntimeError" in str(events[2]["exception"]) and "Bearer ***" in str(events[2]["exception"])
    assert events[3]["level"] == "error" and events[3]["logger"] == "grpc._cython"
    assert "ValueError: ***" in str(events[4]["exception"])
    assert str(events[0]["timestamp"]).endswith("Z")
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_level_filters_and_stdlib_below_warning_is_dropped(log_file: Path) -> None:
    configure_logging(LogSettings(file=log_file, level="warning"), cache=False)
    log = structlog.get_logger()
    log.info("hidden")
    log.warning("shown", n=1)
    logging.getLogger("grpc").info("library chatter")
    logging.getLogger("somelib").warning("library warning")
    assert [(e["event"], e["level"]) for e in read(log_file)] == [
        ("shown", "warning"),
        ("library warning", "warning"),
    ]


def test_redactor_shapes() -> None:
    redactor = Redactor("plain-secret")
    assert redactor.redact("x plain-secret y") == "x *** y"
    assert redactor.redact("authorization: Bearer abc.def") == "authorization: Bearer ***"
    assert redactor.redact(f"token={OTHER}!") == "token=***!"
    assert redactor.redact("t.short") == "t.short"


SHORT = "ab"
"""A simulator-style token (`monitor sim --token ab`): it also spells part of many words."""


def test_a_short_token_inside_a_longer_run_is_left_alone() -> None:
    """Letters, digits, `_` and `-` continue a run: "table" is not "t***le"."""
    text = "the table is stable; abc, cab, ab_1, x-ab, 2ab, abab"
    assert Redactor(SHORT).redact(text) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ab", "***"),
        ("token ab.", "token ***."),
        ("(ab), [ab]; ab!", "(***), [***]; ***!"),
        ("https://host/path?token=ab&x=1", "https://host/path?token=***&x=1"),
        ("https://host/ab/x", "https://host/***/x"),
        (
            "[('authorization', 'ab'), ('x-app-name', 'table')]",
            "[('authorization', '***'), ('x-app-name', 'table')]",
        ),
        ('{"token": "ab"}', '{"token": "***"}'),
        ("ab:ab", "***:***"),
        ("line one\nab\tab", "line one\n***\t***"),
    ],
)
def test_a_short_token_standing_alone_is_blanked(text: str, expected: str) -> None:
    assert Redactor(SHORT).redact(text) == expected


def test_a_short_token_freed_by_a_blanked_neighbour_is_blanked_too() -> None:
    """ "a." in " a.a. ": the first is continued by the second's "a" until that one is blanked."""
    assert Redactor("a.").redact(" a.a. ") == " ****** "


def test_a_long_token_is_blanked_inside_a_word_too() -> None:
    """Eight characters of the secret glued to others is the secret leaking, not a coincidence."""
    token = "sim-token"
    assert len(token) >= WHOLE_RUN_BELOW
    assert Redactor(token).redact("xsim-tokeny, e2e-sim-token") == "x***y, e2e-***"
    assert Redactor(TOKEN).redact(f"Bearer{TOKEN}x") == "Bearer***x"


def test_a_token_holding_the_mask_character_is_still_blanked() -> None:
    """Masking with `*` could rebuild a token that holds one: another mask character is used."""
    token = "x***y-long"
    redacted = Redactor(token).redact(f"xx***y-longy-long {token}")
    assert token not in redacted and "*" not in redacted


def test_a_short_token_in_the_log_file_blanks_only_where_it_stands_alone(log_file: Path) -> None:
    """structlog fields, the event, a URL, metadata reprs, an exception and a stdlib record."""
    configure_logging(LogSettings(file=log_file, level="debug"), token=SHORT, cache=False)
    log = structlog.get_logger("test")
    log.info("a table of ab", token=SHORT, url=f"https://host/?token={SHORT}&n=1", stable="stable")
    log.info("metadata", metadata=[("authorization", SHORT)], nested={"auth": SHORT, "abc": "cab"})
    try:
        raise ValueError(f"refused {SHORT}: bad table")
    except ValueError:
        log.exception("failed")
    logging.getLogger("grpc").warning("call %s", (("authorization", SHORT),))
    first, second, failed, record = read(log_file)
    assert first["event"] == "a table of ***" and first["token"] == "***"
    assert first["url"] == "https://host/?token=***&n=1" and first["stable"] == "stable"
    assert second["metadata"] == [["authorization", "***"]]
    assert second["nested"] == {"auth": "***", "abc": "cab"}
    assert "ValueError: refused ***: bad table" in str(failed["exception"])
    assert record["event"] == "call (('authorization', '***'),)"


QUOTED = "q\"uo\\te's-" + "x" * 10
"""A token with characters JSON and repr escape: the line holds `\\"` and `\\\\`, never it as is."""


def test_a_token_that_json_escapes_is_blanked_in_the_decoded_line(log_file: Path) -> None:
    configure_logging(LogSettings(file=log_file, level="debug"), token=QUOTED, cache=False)
    log = structlog.get_logger("test")
    log.info(f"event {QUOTED}", field=QUOTED, reprs=repr((QUOTED, 1)), nested=[{"k": QUOTED}])
    text = log_file.read_text()
    (event,) = read(log_file)
    assert all(form not in text for form in written_forms(QUOTED))
    assert all(QUOTED not in text for text in _strings(event))
    assert event["reprs"] == "('***', 1)"
    assert event["event"] == "event ***" and event["field"] == "***" and event["nested"] == [{"k": "***"}]


def test_an_escape_in_the_line_is_never_cut_by_the_mask(log_file: Path) -> None:
    """The line holds `\\n` + "abcdefgh": a token "nabcdefgh" is not in the message, and
    blanking the raw line would have left a broken escape (`\\***`)."""
    configure_logging(LogSettings(file=log_file), token="nabcdefgh", cache=False)
    structlog.get_logger().info("line\nabcdefgh")
    (event,) = read(log_file)
    assert event["event"] == "line\nabcdefgh"


def _strings(value: object) -> list[str]:
    """Every string a decoded JSON value holds, keys too."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for key, item in value.items() for s in [key, *_strings(item)]]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


TOKEN_CHARS = st.characters(min_codepoint=0x21, max_codepoint=0x7E)
"""What a token may hold once the settings cleaned it: printable ASCII, no space."""
LONG_TOKENS = st.text(TOKEN_CHARS, min_size=WHOLE_RUN_BELOW, max_size=24)
SHORT_TOKENS = st.text(TOKEN_CHARS, min_size=1, max_size=WHOLE_RUN_BELOW - 1)


@st.composite
def texts_with(draw: st.DrawFn, token: str) -> str:
    """Text mixing the token, its written forms and arbitrary text, glued with no separator too."""
    pieces = [token, repr(token), json.dumps(token), f"Bearer {token}", *written_forms(token)]
    parts = st.one_of(st.sampled_from(pieces), st.text(max_size=6), st.sampled_from(["*", "\\", '"', "'"]))
    return "".join(draw(st.lists(parts, max_size=8)))


@settings(deadline=None)
@given(st.data(), LONG_TOKENS)
def test_no_redacted_text_ever_holds_a_long_token(data: st.DataObject, token: str) -> None:
    text = data.draw(texts_with(token))
    redacted = Redactor(token).redact(text)
    assert all(form not in redacted for form in written_forms(token))


@settings(deadline=None)
@given(st.data(), LONG_TOKENS)
def test_no_json_line_ever_holds_a_long_token(data: st.DataObject, token: str) -> None:
    """A rendered event (values, a nested dict and list, the event) decodes to strings without it."""
    field = data.draw(texts_with(token))
    event = {"event": data.draw(texts_with(token)), "field": field, "nested": {"list": [field, 1]}}
    line = Redactor(token)(None, "info", structlog.processors.JSONRenderer()(None, "info", event))
    assert all(token not in text for text in _strings(json.loads(line)))


@settings(deadline=None)
@given(st.data(), SHORT_TOKENS)
def test_a_short_token_never_stands_alone_in_redacted_text(data: st.DataObject, token: str) -> None:
    """What is left of it is inside a longer run, and text where it never stood alone is kept."""
    text = data.draw(texts_with(token))
    alone = re.compile(rf"(?<![A-Za-z0-9_-])(?:{re.escape(token)})(?![A-Za-z0-9_-])")
    redacted = Redactor(token).redact(text)
    assert alone.search(redacted) is None
    if alone.search(text) is None and all(f not in text for f in written_forms(token) if f != token):
        assert redacted == Redactor().redact(text)


def notices(err: str) -> list[str]:
    return [line for line in err.splitlines() if "running without a log" in line]


def log_everything(count: int) -> None:
    """structlog and stdlib lines, then (straight to the file's handler: pytest's own capture
    would raise) a stdlib record that cannot be formatted."""
    log = structlog.get_logger("test")
    for n in range(count):
        log.info("line", n=n)
        logging.getLogger("somelib").warning("warning %d", n)
    (handler,) = [h for h in logging.getLogger().handlers if h.get_name() == "monitor-file"]
    handler.handle(logging.LogRecord("somelib", logging.WARNING, __file__, 1, "bad args %d %d", (1,), None))


def test_a_full_disk_turns_the_log_off_with_one_notice(capfd: pytest.CaptureFixture[str]) -> None:
    """/dev/full takes the open and fails every write (ENOSPC): no call raises, no "Logging error"
    traceback, one line on stderr (the CLI commands' terminal)."""
    configure_logging(LogSettings(file=Path("/dev/full")), cache=False)
    assert log_failure() is None  # the open worked; the first line fails
    log_everything(20)
    failure = log_failure()
    assert failure is not None and "/dev/full" in failure and "No space left on device" in failure
    out, err = capfd.readouterr()
    assert out == ""
    assert notices(err) == [
        "monitor: warning: cannot write the log file /dev/full (No space left on device); "
        "running without a log"
    ]
    assert "Traceback" not in err and "Logging error" not in err


def test_a_log_that_stops_growing_mid_run_keeps_what_it_had(
    log_file: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file takes 5 lines, then the disk is full (or `ulimit -f` is reached): the lines before
    stay, later calls return normally and drop their lines, the notice comes once."""
    import monitor.logging as monitor_logging

    write_all, writes = monitor_logging._write_all, [0]

    def filling(fd: int, data: bytes) -> None:
        writes[0] += 1
        if writes[0] > 5:
            raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))
        write_all(fd, data)

    monkeypatch.setattr(monitor_logging, "_write_all", filling)
    configure_logging(LogSettings(file=log_file), cache=False)
    log_everything(10)
    assert [(e["event"], e.get("n")) for e in read(log_file)] == [
        ("line", 0),
        ("warning 0", None),
        ("line", 1),
        ("warning 1", None),
        ("line", 2),
    ]
    assert log_failure() == f"cannot write the log file {log_file} (File too large)"
    _out, err = capfd.readouterr()
    assert len(notices(err)) == 1 and "Traceback" not in err and "Logging error" not in err


def test_an_unopenable_log_file_is_still_an_error(tmp_path: Path) -> None:
    """Not a full disk but a mistake in the settings (a directory): the CLI says so and exits 2."""
    with pytest.raises(IsADirectoryError):
        configure_logging(LogSettings(file=tmp_path), cache=False)
