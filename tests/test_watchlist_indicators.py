"""Watchlist indicators: per list and per entry, FILE:LINE errors, and saves that change only their value."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor import cli
from monitor.market import Interval, WatchKey
from monitor.market.indicators import IndicatorSpec, parse_indicator
from monitor.watchlist import (
    AddEntry,
    RemoveEntry,
    SetIndicators,
    SetInterval,
    WatchlistError,
    apply_change,
    load_watchlists,
    remove_entry,
    save_changes,
    save_watchlists,
    set_entry_interval,
    set_indicators,
)

SBER, GAZP, LKOH = WatchKey("SBER_TQBR"), WatchKey("GAZP_TQBR", Interval.M5), WatchKey("LKOH_TQBR")
TEXT = """\
# my lists
[[lists]]
name = "main"  # the main one
indicators = ["sma 20", "ema 50"]  # overlays everywhere
instruments = [
    "SBER_TQBR",                                                # Sberbank
    { id = "GAZP_TQBR", interval = "5m", indicators = ["rsi"] },  # Gazprom
    { id = "LKOH_TQBR", indicators = [] },                      # LUKOIL: none at all
]

# the second list
[[lists]]
name = "energy"
instruments = ["NVTK_TQBR"]  # Novatek
"""


def specs(*texts: str) -> tuple[IndicatorSpec, ...]:
    return tuple(parse_indicator(text) for text in texts)


def specs_of(texts: list[str]) -> tuple[IndicatorSpec, ...]:
    return specs(*texts)


def write(tmp_path: Path, text: str = TEXT) -> Path:
    path = tmp_path / "w.toml"
    path.write_text(text, encoding="utf-8")
    return path


def changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(), after.splitlines()
    assert len(old) == len(new), after
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


# ------------------------------------------------------------------ loading


def test_a_list_and_its_entries_carry_indicators(tmp_path: Path) -> None:
    main = load_watchlists(write(tmp_path)).get("main")
    assert main.indicators == specs("sma 20", "ema 50")
    assert main.indicators_for(SBER) == specs("sma 20", "ema 50")  # no list of its own: the list's
    assert main.indicators_for(GAZP) == specs("rsi 14")  # its own replaces the list's
    assert main.indicators_for(LKOH) == ()  # an empty list of its own: none
    assert load_watchlists(write(tmp_path)).get("energy").indicators == ()


def test_a_key_not_in_the_list_gets_the_lists_indicators(tmp_path: Path) -> None:
    main = load_watchlists(write(tmp_path)).get("main")
    assert main.indicators_for(WatchKey("SBER_TQBR", Interval.H1)) == main.indicators


BAD = [
    ('indicators = ["sma 20", "sma -3"]', 4, "lists[0].indicators[1]: sma: N must be a whole number"),
    ('indicators = ["foo 2"]', 4, "lists[0].indicators[0]: unknown indicator 'foo'; expected one of: sma N"),
    ('indicators = ["sma x"]', 4, "lists[0].indicators[0]: sma: N must be a whole number of candles from 1"),
    ('indicators = "sma 20"', 4, 'lists[0].indicators: expected an array of indicators like ["sma 20"'),
    (
        "indicators = [20]",
        4,
        'lists[0].indicators[0]: expected an indicator string like "sma 20", got an integer',
    ),
    ('indicators = ["sma 20", "SMA  20"]', 4, "lists[0].indicators[1]: duplicate indicator 'sma 20'"),
]


@pytest.mark.parametrize(("line", "number", "message"), BAD)
def test_a_bad_list_indicator_is_a_file_line_field_error(
    tmp_path: Path, line: str, number: int, message: str
) -> None:
    path = write(tmp_path, TEXT.replace('indicators = ["sma 20", "ema 50"]', line))
    with pytest.raises(WatchlistError) as caught:
        load_watchlists(path)
    assert str(caught.value).startswith(f"{path}:{number}: {message}")


def test_a_bad_entry_indicator_names_its_line_and_entry(tmp_path: Path) -> None:
    path = write(tmp_path, TEXT.replace('indicators = ["rsi"]', 'indicators = ["rsi", "macd 26 12"]'))
    with pytest.raises(WatchlistError) as caught:
        load_watchlists(path)
    assert str(caught.value) == (
        f"{path}:7: lists[0].instruments[1].indicators[1]: macd: FAST (26) must be less than SLOW (12), "
        "e.g. macd 12 26 9"
    )


@pytest.fixture
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setenv("TINKOFF_TOKEN_STRING", "t.not-a-real-token")
    handlers = list(logging.getLogger().handlers)
    yield
    for handler in [h for h in logging.getLogger().handlers if h not in handlers]:
        logging.getLogger().removeHandler(handler)
        handler.close()
    structlog.reset_defaults()


@pytest.mark.usefixtures("isolated")
def test_a_bad_spec_exits_2_with_the_file_line_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, TEXT.replace('"ema 50"', '"ema 0"'))
    argv = ["check", "--endpoint", "127.0.0.1:9", "--plaintext", "--watchlist", str(path)]
    assert cli.main([*argv, "--log-file", str(tmp_path / "log.jsonl")]) == 2
    assert f"{path}:4: lists[0].indicators[1]: ema: N must be" in capsys.readouterr().err


# ------------------------------------------------------------------ model edits


def test_set_indicators_on_a_list_and_on_an_entry(tmp_path: Path) -> None:
    lists = load_watchlists(write(tmp_path))
    lists = set_indicators(lists, "main", None, specs("vwap"))
    lists = set_indicators(lists, "main", SBER, specs("bb 20 2"))
    lists = set_indicators(lists, "main", GAZP, None)  # back to the list's
    main = lists.get("main")
    assert (main.indicators_for(SBER), main.indicators_for(GAZP)) == (specs("bb 20 2"), specs("vwap"))
    with pytest.raises(WatchlistError, match="no longer in list"):
        set_indicators(lists, "main", WatchKey("ROSN_TQBR"), ())


def test_an_entrys_indicators_follow_it_and_leave_with_it(tmp_path: Path) -> None:
    lists = load_watchlists(write(tmp_path))
    moved = set_entry_interval(lists, "main", 1, Interval.H1)
    assert moved.get("main").indicators_for(WatchKey("GAZP_TQBR", Interval.H1)) == specs("rsi 14")
    removed = remove_entry(lists, "main", 1)
    assert removed.get("main").indicators_for(GAZP) == removed.get("main").indicators  # gone with it


# ------------------------------------------------------------------ saving


SAVES = [
    (
        SetIndicators("main", None, specs("bb 20 2.5", "vwap")),
        [
            (
                'indicators = ["sma 20", "ema 50"]  # overlays everywhere',
                'indicators = ["bb 20 2.5", "vwap"]  # overlays everywhere',
            )
        ],
    ),
    (
        SetIndicators("main", GAZP, specs("macd")),
        [
            (
                '    { id = "GAZP_TQBR", interval = "5m", indicators = ["rsi"] },  # Gazprom',
                '    { id = "GAZP_TQBR", interval = "5m", indicators = ["macd 12 26 9"] },  # Gazprom',
            )
        ],
    ),
    (
        SetIndicators("main", SBER, specs("rsi 7")),
        [
            (
                '    "SBER_TQBR",                                                # Sberbank',
                '    { id = "SBER_TQBR", indicators = ["rsi 7"] },               # Sberbank',
            )
        ],
    ),
    (
        SetIndicators("main", LKOH, None),
        [
            (
                '    { id = "LKOH_TQBR", indicators = [] },                      # LUKOIL: none at all',
                '    { id = "LKOH_TQBR" },                      # LUKOIL: none at all',
            )
        ],
    ),
]


each_save = pytest.mark.parametrize(
    ("change", "lines"), SAVES, ids=["list", "entry-table", "entry-string", "entry-removed"]
)


@each_save
def test_a_saved_indicator_change_edits_only_its_value(
    tmp_path: Path, change: SetIndicators, lines: list[tuple[str, str]]
) -> None:
    path = write(tmp_path)
    before = load_watchlists(path)
    saved = save_changes(path, [change])
    assert changed_lines(TEXT, path.read_text(encoding="utf-8")) == lines
    assert saved.watchlists == apply_change(before, change) == load_watchlists(path)


@each_save
def test_saving_the_edited_model_finds_the_same_edit(
    tmp_path: Path, change: SetIndicators, lines: list[tuple[str, str]]
) -> None:
    path = write(tmp_path)
    save_watchlists(path, apply_change(load_watchlists(path), change))
    assert changed_lines(TEXT, path.read_text(encoding="utf-8")) == lines


def test_a_list_without_indicators_gains_them_after_its_name(tmp_path: Path) -> None:
    path = write(tmp_path)
    save_changes(path, [SetIndicators("energy", None, specs("sma 5"))])
    assert path.read_text(encoding="utf-8") == TEXT.replace(
        'name = "energy"\n', 'name = "energy"\nindicators = ["sma 5"]\n'
    )


def test_moving_an_entry_with_its_own_indicators_keeps_them(tmp_path: Path) -> None:
    path = write(tmp_path)
    lists = load_watchlists(path)
    entries = lists.get("main").entries
    reordered = apply_change(
        apply_change(lists, RemoveEntry("main", GAZP)), AddEntry("main", GAZP, len(entries) - 1)
    )
    reordered = set_indicators(reordered, "main", GAZP, specs("rsi 14"))
    save_watchlists(path, reordered)
    assert load_watchlists(path) == reordered
    assert "# my lists" in path.read_text(encoding="utf-8")


def test_an_interval_change_keeps_the_entrys_indicators_in_the_file(tmp_path: Path) -> None:
    path = write(tmp_path)
    saved = save_changes(path, [SetInterval("main", GAZP, Interval.H1)])
    assert saved.watchlists.get("main").indicators_for(WatchKey("GAZP_TQBR", Interval.H1)) == specs("rsi 14")
    assert load_watchlists(path) == saved.watchlists


def test_a_new_file_is_written_with_the_indicators(tmp_path: Path) -> None:
    lists = set_indicators(load_watchlists(write(tmp_path)), "energy", None, specs("ema 9"))
    fresh = tmp_path / "new" / "w.toml"
    save_watchlists(fresh, lists)
    assert load_watchlists(fresh) == lists


spec_lists = st.none() | st.lists(
    st.sampled_from(["sma 5", "ema 9", "bb 20 2.5", "vwap", "rsi", "macd 5 35 9"]), unique=True, max_size=3
).map(specs_of)
targets = st.sampled_from([None, SBER, GAZP, LKOH])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(targets, spec_lists), min_size=1, max_size=6))
def test_any_indicator_changes_save_as_meant_and_keep_every_comment(
    tmp_path: Path, edits: list[tuple[WatchKey | None, tuple[IndicatorSpec, ...] | None]]
) -> None:
    path = write(tmp_path)
    changes = [
        SetIndicators("main", key, () if key is None and chosen is None else chosen) for key, chosen in edits
    ]
    expected = load_watchlists(path)
    for change in changes:
        expected = apply_change(expected, change)
    saved = save_changes(path, changes)
    text = path.read_text(encoding="utf-8")
    assert saved.watchlists == expected == load_watchlists(path)
    comments = [line.split("#", 1)[1] for line in TEXT.splitlines() if "#" in line]
    assert all(comment in text for comment in comments)
    assert text.splitlines()[:3] == TEXT.splitlines()[:3]  # lines before the change, byte for byte
