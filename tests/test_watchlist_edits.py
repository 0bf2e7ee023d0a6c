"""Every edit the UI makes changes the edited value and nothing else: byte-level diffs over a file
with comments, odd spacing and both string styles everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.market import Interval, WatchKey
from monitor.watchlist import (
    AddEntry,
    Change,
    RemoveEntry,
    SetActive,
    SetInterval,
    SetLayout,
    Watchlists,
    apply_change,
    load_watchlists,
    parse_watchlists,
    replay,
    save_changes,
    save_watchlists,
)

RICH = """\
# my watchlists: every line of this file must survive an edit of another line
active = "main"  # which list is shown

# the main list
[[lists]]
name = "main"   # name comment
layout = "2x2"  # layout comment
interval = "1m"
instruments = [
    # a comment line about Sber
    { id = "SBER_TQBR" },  # my Sber note
    "GAZP_TQBR",            # gazprom note
    # a comment line about Lukoil
    { id = "LKOH_TQBR", interval = "5m" },   # lukoil note
    {id='MOEX_TQBR',interval='1h'},
    'YDEX_TQBR',  # literal string
]  # end of the array

# the second list, without a layout
[[lists]]
name = "energy"
interval = "1h"
instruments = ["NVTK_TQBR", "ROSN_TQBR"]  # an inline array
"""

ORIGINAL = parse_watchlists(RICH.encode(), Path("watchlist.toml"))
M1, M5, H1, H2 = Interval.M1, Interval.M5, Interval.H1, Interval.H2
SBER, GAZP, LKOH, MOEX, YDEX = (
    WatchKey("SBER_TQBR", M1),
    WatchKey("GAZP_TQBR", M1),
    WatchKey("LKOH_TQBR", M5),
    WatchKey("MOEX_TQBR", H1),
    WatchKey("YDEX_TQBR", M1),
)
NVTK, ROSN = WatchKey("NVTK_TQBR", H1), WatchKey("ROSN_TQBR", H1)

# (the change, the line it edits, what that line becomes): every other byte stays.
EDITS: list[tuple[Change, str, str]] = [
    (
        SetInterval("main", SBER, M5),
        '    { id = "SBER_TQBR" },  # my Sber note\n',
        '    { id = "SBER_TQBR", interval = "5m" },  # my Sber note\n',
    ),
    (
        SetInterval("main", GAZP, M5),
        '    "GAZP_TQBR",            # gazprom note\n',
        '    { id = "GAZP_TQBR", interval = "5m" },  # gazprom note\n',
    ),
    (
        SetInterval("main", LKOH, M1),  # back to the list's interval: the explicit key stays
        '    { id = "LKOH_TQBR", interval = "5m" },   # lukoil note\n',
        '    { id = "LKOH_TQBR", interval = "1m" },   # lukoil note\n',
    ),
    (
        SetInterval("main", MOEX, H2),
        "    {id='MOEX_TQBR',interval='1h'},\n",
        "    {id='MOEX_TQBR',interval='2h'},\n",
    ),
    (
        SetInterval("main", YDEX, M5),
        "    'YDEX_TQBR',  # literal string\n",
        "    { id = 'YDEX_TQBR', interval = \"5m\" },  # literal string\n",
    ),
    (
        SetInterval("energy", NVTK, Interval.D1),
        'instruments = ["NVTK_TQBR", "ROSN_TQBR"]  # an inline array\n',
        'instruments = [{ id = "NVTK_TQBR", interval = "1d" }, "ROSN_TQBR"]  # an inline array\n',
    ),
    (
        AddEntry("main", WatchKey("NEW_TQBR", M1)),
        "    'YDEX_TQBR',  # literal string\n",
        "    'YDEX_TQBR',  # literal string\n    \"NEW_TQBR\",\n",
    ),
    (
        AddEntry("energy", WatchKey("NEW_TQBR", H1)),
        'instruments = ["NVTK_TQBR", "ROSN_TQBR"]  # an inline array\n',
        'instruments = ["NVTK_TQBR", "ROSN_TQBR", "NEW_TQBR"]  # an inline array\n',
    ),
    (RemoveEntry("main", GAZP), '    "GAZP_TQBR",            # gazprom note\n', ""),
    (
        RemoveEntry("energy", NVTK),
        'instruments = ["NVTK_TQBR", "ROSN_TQBR"]  # an inline array\n',
        'instruments = ["ROSN_TQBR"]  # an inline array\n',
    ),
    (SetLayout("main", "3x3"), 'layout = "2x2"  # layout comment\n', 'layout = "3x3"  # layout comment\n'),
    (SetLayout("energy", "1"), 'name = "energy"\n', 'name = "energy"\nlayout = "1"\n'),
    (
        SetActive("energy"),
        'active = "main"  # which list is shown\n',
        'active = "energy"  # which list is shown\n',
    ),
]
IDS = [f"{type(change).__name__}-{i}" for i, (change, _, _) in enumerate(EDITS)]


def rich(tmp_path: Path) -> Path:
    path = tmp_path / "watchlist.toml"
    path.write_text(RICH, encoding="utf-8")
    return path


def expected(line: str, becomes: str) -> str:
    assert RICH.count(line) == 1, line
    return RICH.replace(line, becomes)


@pytest.mark.parametrize(("change", "line", "becomes"), EDITS, ids=IDS)
def test_a_change_edits_its_line_only(tmp_path: Path, change: Change, line: str, becomes: str) -> None:
    path = rich(tmp_path)
    saved = save_changes(path, [change])
    assert path.read_text(encoding="utf-8") == expected(line, becomes)
    assert saved.written and saved.watchlists == apply_change(ORIGINAL, change)


@pytest.mark.parametrize(("change", "line", "becomes"), EDITS, ids=IDS)
def test_saving_the_edited_model_edits_its_line_only(
    tmp_path: Path, change: Change, line: str, becomes: str
) -> None:
    """The whole-model save (`save_watchlists`) finds the same one-line difference."""
    path = rich(tmp_path)
    save_watchlists(path, apply_change(load_watchlists(path), change))
    assert path.read_text(encoding="utf-8") == expected(line, becomes)


def test_a_new_active_key_goes_above_the_lists_and_their_comment(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    without = RICH.replace('active = "main"  # which list is shown\n', "")
    path.write_text(without)
    save_changes(path, [SetActive("energy")])
    assert path.read_text() == without.replace("\n# the main list", '\nactive = "energy"\n\n# the main list')


def test_an_edit_that_does_not_apply_any_more_is_dropped_and_said(tmp_path: Path) -> None:
    path = rich(tmp_path)
    saved = save_changes(path, [RemoveEntry("main", WatchKey("NOPE_TQBR")), SetLayout("main", "1")])
    assert saved.dropped == ("NOPE_TQBR at 1m is no longer in list 'main'",)
    assert load_watchlists(path).active_list.layout == "1"


def test_a_file_changed_during_the_save_is_merged_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An editor saving between our read and our rename: the save starts over from its text."""
    from monitor.watchlist import save as save_module
    from monitor.watchlist.doc import edit_text

    path = rich(tmp_path)
    real = edit_text
    edited_by_hand = RICH.replace("# the main list\n", "# the main list, edited by hand\n")

    def racing(text: str, *args: Any) -> tuple[str, Watchlists, list[str]]:
        if "edited by hand" not in path.read_text():
            path.write_text(edited_by_hand)
        return real(text, *args)

    monkeypatch.setattr(save_module, "edit_text", racing)
    save_changes(path, [SetLayout("main", "1")])
    assert path.read_text() == edited_by_hand.replace('layout = "2x2"', 'layout = "1"')


changes = st.lists(
    st.one_of(
        st.builds(
            SetInterval,
            st.just("main"),
            st.sampled_from([SBER, GAZP, LKOH, MOEX, YDEX]),
            st.sampled_from([M1, M5, H1, H2]),
        ),
        st.builds(AddEntry, st.sampled_from(["main", "energy"]), st.builds(WatchKey, st.just("NEW_TQBR"))),
        st.builds(SetLayout, st.sampled_from(["main", "energy"]), st.sampled_from(["1", "1x2", "3x3"])),
        st.builds(SetActive, st.sampled_from(["main", "energy"])),
        st.builds(RemoveEntry, st.just("main"), st.sampled_from([SBER, GAZP, YDEX])),
    ),
    max_size=8,
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(changes)
def test_any_sequence_of_changes_keeps_every_comment_of_the_lines_it_keeps(
    tmp_path_factory: pytest.TempPathFactory, sequence: list[Change]
) -> None:
    path = rich(tmp_path_factory.mktemp("w"))
    saved = save_changes(path, sequence)
    text = path.read_text()
    assert parse_watchlists(text.encode(), path) == saved.watchlists == replay(ORIGINAL, sequence)[0]
    removed = {str(change.key.id) for change in sequence if isinstance(change, RemoveEntry)}
    kept = [
        line.split("#", 1)[1]
        for line in RICH.splitlines()
        if "#" in line and not any(key in line for key in removed)
    ]
    comments = [line.split("#", 1)[1] for line in text.splitlines() if "#" in line]
    assert [c for c in comments if c in kept] == kept  # every one, in the same order
