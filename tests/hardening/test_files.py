"""Hostile settings and watchlist files: a clear FILE:LINE: FIELD message or a working result."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.market import Interval, WatchKey
from monitor.settings import Settings, SettingsError, load_settings
from monitor.watchlist import (
    Watchlist,
    WatchlistError,
    Watchlists,
    add_entry,
    load_watchlists,
    parse_watchlists,
    remove_entry,
    save_watchlists,
    set_entry_interval,
)

CONFIG = Path("/nonexistent-dir/hyp-monitor.toml")
SECTIONS = {
    "connection": ["endpoint", "sandbox", "token_file", "ca_file", "plaintext", "ping_delay_ms", "oops"],
    "feed": ["history_candles", "max_streams", "stale_after_s", "oops"],
    "ui": ["renderer", "theme", "refresh_hz", "keys", "timezone", "oops"],
    "log": ["file", "level", "oops"],
}
HOSTILE = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


pytestmark = pytest.mark.usefixtures("clean_env")


def load_from(tmp_path: Path, raw: bytes) -> Settings | SettingsError:
    """Loads `raw` as the settings file; a SettingsError is returned, anything else propagates."""
    path = tmp_path / "monitor.toml"
    path.write_bytes(raw)
    try:
        return load_settings(config_file=path)[0]
    except SettingsError as exc:
        message = str(exc)
        assert "\n" not in message and "Traceback" not in message
        assert str(path) in message, message
        return exc


scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=12)
    | st.sampled_from(["127.0.0.1:1", "a:443", "native", "debug", "~/x", "/dev/null", "\x00", "e" * 300])
)
values = st.recursive(
    scalars,
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=4), c, max_size=3),
    max_leaves=6,
)
documents = st.dictionaries(
    st.sampled_from([*SECTIONS, "watchlist", "junk"]),
    st.one_of(
        values,
        st.sampled_from(list(SECTIONS)).flatmap(
            lambda s: st.dictionaries(st.sampled_from(SECTIONS[s]), values, max_size=4)
        ),
    ),
    max_size=4,
)


@HOSTILE
@given(documents)
def test_generated_settings_documents(
    tmp_path_factory: pytest.TempPathFactory, data: dict[str, object]
) -> None:
    """Any TOML document of right, wrong and unknown keys and types loads or names file and line."""
    tmp_path = tmp_path_factory.mktemp("s")
    result = load_from(tmp_path, tomlkit.dumps(data).encode())
    if isinstance(result, SettingsError):
        assert re.search(r"monitor\.toml(:\d+)?: ", str(result)), str(result)


@HOSTILE
@given(
    st.binary(max_size=200)
    | st.text(alphabet="[]{}=\"'.,#\n\\ aceilnoprstu_1\x00é", max_size=200).map(str.encode)
)
def test_garbage_settings_bytes(tmp_path_factory: pytest.TempPathFactory, raw: bytes) -> None:
    """Broken TOML, stray bytes and non-UTF-8 give a one-line error naming the file."""
    load_from(tmp_path_factory.mktemp("g"), raw)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ('[connection]\nendpoint = "a:1"\n[connection]\nsandbox = true\n', ":3: invalid TOML"),
        ("[feed]\nmax_streams = 1\nmax_streams = 2\n", ":3: invalid TOML"),
        ('[feed]\nmax_streams = "four"\n', ":2: feed.max_streams: Input should be a valid integer"),
        ("connection = 5\n", ":1: connection: Input should be a valid dictionary"),
        ("[ui.keys]\nquit = 5\n", ":2: ui.keys.quit: Input should be a valid string"),
        ('[connection]\ntoken_file = "a\\u0000b"\n', ""),
        ('[log]\nfile = "a\\u0000b"\n', ""),
    ],
)
def test_settings_errors_name_file_line_field(tmp_path: Path, text: str, where: str) -> None:
    """Duplicate tables and keys, wrong types, NUL bytes in paths: one line, file and line."""
    result = load_from(tmp_path, text.encode())
    assert isinstance(result, SettingsError)
    assert where in str(result)


def test_settings_non_utf8_deep_in_the_file(tmp_path: Path) -> None:
    raw = b'[ui]\ntheme = "ok"\n# comment\nup_color = "\xc3\x28"\n'
    result = load_from(tmp_path, raw)
    assert isinstance(result, SettingsError) and ":4: the file is not valid UTF-8" in str(result)


# ---------------------------------------------------------------- watchlists (extends test_watchlist)

ids = st.sampled_from(["SBER_TQBR", "GAZP_TQBR", "BBG004730N88", "e6123145-9665-43e0-8413-cd61b8aa9b13"])
entries = st.builds(WatchKey, ids, st.sampled_from([Interval.M1, Interval.M5, Interval.H1]))
lists = st.lists(entries, min_size=1, max_size=6, unique=True)


@HOSTILE
@given(
    st.lists(
        st.tuples(st.text(min_size=1, max_size=6).filter(str.strip), lists),
        min_size=1,
        max_size=3,
        unique_by=lambda t: t[0].strip(),
    )
)
def test_valid_watchlists_round_trip_through_save(
    tmp_path_factory: pytest.TempPathFactory, raw: list[tuple[str, list[WatchKey]]]
) -> None:
    """Any valid watchlists (odd names included) save and load back equal."""
    model = Watchlists(tuple(Watchlist(n.strip(), entries=tuple(e)) for n, e in raw), raw[-1][0].strip())
    path = tmp_path_factory.mktemp("w") / "w.toml"
    save_watchlists(path, model)
    assert load_watchlists(path) == model


def test_wrong_types_nested_deep(tmp_path: Path) -> None:
    """A table where a list belongs, and deeply nested arrays: messages, not tracebacks."""
    for text in (
        '[lists]\nname = "a"\n',
        "lists = [[[[[[[[1]]]]]]]]\n",
        "lists = " + "[" * 5000 + "]" * 5000 + "\n",
    ):
        with pytest.raises(WatchlistError, match=r"^g\.toml:\d+: "):
            parse_watchlists(text.encode(), Path("g.toml"))


def big_file(tmp_path: Path, count: int = 1000) -> Path:
    path = tmp_path / "big.toml"
    items = "".join(f'  "T{i:04d}_TQBR",  # number {i}\n' for i in range(count))
    path.write_text(f'[[lists]]\nname = "big"\nlayout = "3x3"\ninstruments = [\n{items}]\n')
    return path


def test_thousand_instruments_load_edit_save_quickly(tmp_path: Path) -> None:
    """1,000 instruments: load, edit and comment-keeping save each well under a second."""
    path = big_file(tmp_path)
    started = time.perf_counter()
    lists = load_watchlists(path)
    assert time.perf_counter() - started < 0.5
    assert len(lists.active_list.entries) == 1000
    started = time.perf_counter()
    lists = remove_entry(add_entry(lists, "big", "NEW_TQBR", 500), "big", 0)
    lists = set_entry_interval(lists, "big", 900, Interval.H1)
    save_watchlists(path, lists)
    assert time.perf_counter() - started < 1.0
    assert load_watchlists(path) == lists
    assert "# number 999" in path.read_text()
    with pytest.raises(WatchlistError, match=r":1004: lists\[0\]\.instruments\[999\]: duplicate"):
        parse_watchlists(big_file(tmp_path).read_bytes().replace(b"T0999", b"T0000"), path)
