"""Watchlists: loading with FILE:LINE: FIELD errors, editing helpers and comment-keeping atomic saves."""

from __future__ import annotations

from pathlib import Path

import pytest
import tomlkit
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.market import Interval, WatchKey
from monitor.tomlpos import find_line
from monitor.watchlist import (
    IdKind,
    Watchlist,
    WatchlistError,
    Watchlists,
    add_entry,
    classify_id,
    load_watchlists,
    parse_watchlists,
    remove_entry,
    save_watchlists,
    set_active,
    set_entry_interval,
    set_layout,
)

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "config" / "watchlist.toml"
SBER_UID = "e6123145-9665-43e0-8413-cd61b8aa9b13"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "w.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_example_loads() -> None:
    lists = load_watchlists(EXAMPLE)
    assert lists.active == "main"
    main = lists.active_list
    assert main.layout == "2x2"
    assert main.entries[:3] == (
        WatchKey("SBER_TQBR", Interval.M1),
        WatchKey("GAZP_TQBR", Interval.M5),
        WatchKey("BBG004731032", Interval.M1),
    )
    assert lists.get("energy").entries[0].interval is Interval.H1


def test_defaults_active_layout_interval(tmp_path: Path) -> None:
    lists = load_watchlists(write(tmp_path, '[[lists]]\nname = "a"\ninstruments = ["SBER_TQBR"]\n'))
    assert lists.active == "a"
    assert lists.active_list == Watchlist("a", "2x2", Interval.M1, (WatchKey("SBER_TQBR", Interval.M1),))


BROKEN = [
    (
        '[[lists]]\nname = "a"\ninstruments = [\n  "SBER_TQBR",\n'
        '  { id = "GAZP_TQBR", interval = "7x" },\n]\n',
        5,
        "lists[0].instruments[1].interval: unknown interval '7x'; expected one of 1m",
    ),
    ('active = "b"\n[[lists]]\nname = "a"\ninstruments = ["SBER_TQBR"]\n', 1, "active: no list named 'b'"),
    (
        '[[lists]]\nname = "a"\nlayout = "4x4"\ninstruments = ["SBER_TQBR"]\n',
        3,
        "lists[0].layout: unknown layout",
    ),
    ('[[lists]]\nname = "a"\ninstruments = []\n', 3, "lists[0].instruments: expected a non-empty array"),
    (
        '[[lists]]\nname = "a"\ninstruments = ["SBER_TQBR", "SBER_TQBR"]\n',
        3,
        "lists[0].instruments[1]: duplicate",
    ),
    ('[[lists]]\nname = "a"\ncolour = 1\ninstruments = ["SBER_TQBR"]\n', 3, "lists[0].colour: unknown key"),
    (
        '[[lists]]\nname = "a"\ninstruments = ["SBER_TQBR"]\n[[lists]]\nname = 5\ninstruments = ["X_Y"]\n',
        5,
        "lists[1].name: expected a non-empty string, got an integer",
    ),
    (
        '[[lists]]\nname = "a"\ninstruments = ["SBER"]\n',
        3,
        "lists[0].instruments[0]: instrument 'SBER' is not",
    ),
    (
        '[[lists]]\nname = "a"\ninstruments = [{ interval = "1m" }]\n',
        3,
        "lists[0].instruments[0]: missing key 'id'",
    ),
    ("lists = 3\n", 1, "lists: expected at least one [[lists]] table"),
    ('[[lists]]\nname = "a"\ninstruments = ["SBER_TQBR"\n', 4, "file: invalid TOML"),
    ("\n\nactive = = 1\n", 3, "file: invalid TOML"),
    ('extra = 1\n[[lists]]\nname = "a"\ninstruments = ["SBER_TQBR"]\n', 1, "extra: unknown key 'extra'"),
]


@pytest.mark.parametrize(("text", "line", "message"), BROKEN)
def test_errors_name_file_line_and_field(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(WatchlistError) as info:
        load_watchlists(path)
    assert str(info.value).startswith(f"{path}:{line}: {message}")


def test_duplicate_only_with_same_interval(tmp_path: Path) -> None:
    text = '[[lists]]\nname = "a"\ninstruments = ["SBER_TQBR", { id = "SBER_TQBR", interval = "1h" }]\n'
    assert len(load_watchlists(write(tmp_path, text)).active_list.entries) == 2


def test_non_utf8_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_bytes(b'[[lists]]\nname = "\xff"\n')
    with pytest.raises(WatchlistError, match=rf"^{path}:2: file: not valid UTF-8"):
        load_watchlists(path)
    with pytest.raises(WatchlistError, match="cannot read"):
        load_watchlists(tmp_path / "missing.toml")


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=200) | st.text(alphabet="[]{}=\"',.#\n abcilnstuv_1mx2SBER", max_size=200))
def test_garbage_only_raises_watchlist_error(raw: bytes | str) -> None:
    data = raw.encode() if isinstance(raw, str) else raw
    try:
        parse_watchlists(data, Path("g.toml"))
    except WatchlistError as exc:
        assert str(exc).startswith("g.toml:")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.text(max_size=8)
    | st.sampled_from(["1m", "2x2", "SBER_TQBR"]),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["name", "id", "interval", "layout", "instruments", "lists", "active", "x"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=12,
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(["active", "lists", "other"]), json_values, max_size=3))
def test_generated_documents_only_raise_watchlist_error(data: dict[str, object]) -> None:
    try:
        text = tomlkit.dumps(data)
    except Exception:  # tomlkit cannot write None and friends: not our concern
        return
    try:
        result = parse_watchlists(text.encode(), Path("g.toml"))
    except WatchlistError:
        return
    assert result.active_list.entries


def test_editing_helpers() -> None:
    lists = Watchlists(
        (Watchlist("a", entries=(WatchKey("SBER_TQBR"),)), Watchlist("b", entries=(WatchKey("X_Y"),)))
    )
    lists = add_entry(lists, "a", "GAZP_TQBR")
    lists = add_entry(lists, "a", WatchKey(SBER_UID, Interval.H1), index=0)
    assert [e.id for e in lists.get("a").entries] == [SBER_UID, "SBER_TQBR", "GAZP_TQBR"]
    with pytest.raises(WatchlistError, match="already in the list"):
        add_entry(lists, "a", "SBER_TQBR")
    with pytest.raises(WatchlistError, match="not TICKER_CLASSCODE"):
        add_entry(lists, "a", "what")
    lists = set_entry_interval(lists, "a", 1, Interval.M5)
    assert [e.interval for e in lists.get("a").entries] == [Interval.H1, Interval.M5, Interval.M1]
    lists = remove_entry(lists, "a", 0)
    assert len(lists.get("a").entries) == 2
    with pytest.raises(WatchlistError, match="at least one"):
        remove_entry(lists, "b", 0)
    assert set_layout(lists, "a", "3x3").get("a").layout == "3x3"
    with pytest.raises(WatchlistError, match="unknown layout"):
        set_layout(lists, "a", "5x5")
    assert set_active(lists, "b").active_list.name == "b"
    with pytest.raises(WatchlistError, match="no watchlist named"):
        set_active(lists, "zzz")


def test_save_keeps_comments_and_order(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_bytes(EXAMPLE.read_bytes())
    path.chmod(0o600)
    lists = load_watchlists(path)
    lists = add_entry(lists, "main", WatchKey("NVTK_TQBR", Interval.H1))
    lists = remove_entry(lists, "main", 2)  # LUKOIL by FIGI
    lists = set_layout(lists, "energy", "1")
    lists = set_active(lists, "energy")
    save_watchlists(path, lists)
    text = path.read_text()
    assert load_watchlists(path) == lists
    assert "# Sberbank, by ticker and class code" in text
    assert "# Gazprom, on 5-minute candles" in text
    assert "# Which [[lists]] table is shown at start" in text
    assert "BBG004731032" not in text
    assert 'id = "NVTK_TQBR", interval = "1h"' in text
    assert text.index('name = "main"') < text.index('name = "energy"')
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["w.toml"]  # no temp file left behind


def test_save_unchanged_is_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_bytes(EXAMPLE.read_bytes())
    save_watchlists(path, load_watchlists(path))
    assert path.read_bytes() == EXAMPLE.read_bytes()


def test_save_new_file_and_added_list(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "new.toml"
    lists = Watchlists((Watchlist("x", "1", Interval.D1, (WatchKey("SBER_TQBR", Interval.D1),)),), "x")
    save_watchlists(path, lists)
    assert load_watchlists(path) == lists
    lists = Watchlists((*lists.lists, Watchlist("y", entries=(WatchKey("X_Y"),))), "y")
    save_watchlists(path, lists)
    assert load_watchlists(path) == lists
    lists = Watchlists(lists.lists[1:], "y")
    save_watchlists(path, lists)
    assert load_watchlists(path) == lists


def test_classify_id() -> None:
    assert classify_id("SBER_TQBR") == (IdKind.TICKER, "SBER", "TQBR")
    assert classify_id("BBG004730N88") == (IdKind.FIGI, "BBG004730N88", "")
    assert classify_id(SBER_UID) == (IdKind.UID, SBER_UID, "")
    with pytest.raises(ValueError):
        classify_id("SBER")


def test_find_line() -> None:
    text = EXAMPLE.read_text()
    lines = text.splitlines()
    assert "GAZP_TQBR" in lines[find_line(text, ["lists", 0, "instruments", 1, "interval"]) - 1]  # type: ignore[operator]
    assert "fd417230" in lines[find_line(text, ["lists", 0, "instruments", 3]) - 1]  # type: ignore[operator]
    assert "ROSN_TQBR" in lines[find_line(text, ["lists", 1, "instruments", 1]) - 1]  # type: ignore[operator]
    assert lines[find_line(text, ["lists", 1, "layout"]) - 1] == 'layout = "1x2"'  # type: ignore[operator]
    assert find_line("a = 1\n", ["b"]) is None
