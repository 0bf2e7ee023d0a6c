"""The watchlist's `alerts` field: loading with FILE:LINE: field errors, and edits saved in place."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.alerts import RuleError, make_rule, parse_when
from monitor.alerts.rules import Condition
from monitor.market import Interval, WatchKey
from monitor.watchlist import (
    AddAlert,
    RemoveAlert,
    RemoveEntry,
    SetInterval,
    WatchlistError,
    load_watchlists,
    save_changes,
    save_watchlists,
)

HEAD = '[[lists]]\nname = "a"\ninstruments = ["SBER_TQBR", { id = "GAZP_TQBR", interval = "5m" }]\n'
FILE = """\
# my list
[[lists]]
name = "a"
instruments = ["SBER_TQBR", { id = "GAZP_TQBR", interval = "5m" }]  # two
alerts = [
    # the breakout I wait for
    { instrument = "SBER_TQBR", when = "price above 354.5", note = "breakout", id = "sber-breakout" },
    { instrument = "GAZP_TQBR", when = "close below SMA 20", mode = "rearm", hysteresis = 0.5 },
]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "w.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "condition"),
    [
        ("price above 354.5", Condition("price", "above", 354.5)),
        ("Price  BELOW 10", Condition("price", "below", 10.0)),
        ("price crosses .5", Condition("price", "crosses", 0.5)),
        ("close above 100", Condition("close", "above", 100.0)),
        ("close below sma 50", Condition("close", "below", reference="sma", period=50)),
        ("close above EMA 9", Condition("close", "above", reference="ema", period=9)),
        ("change above 2%", Condition("change", "above", 2.0)),
        ("change below -1.5 %", Condition("change", "below", -1.5)),
        ("volume above 3 x 20", Condition("volume", "above", 3.0, period=20)),
        ("volume above 2.5x10", Condition("volume", "above", 2.5, period=10)),
    ],
)
def test_when_forms(text: str, condition: Condition) -> None:
    assert parse_when(text) == condition
    assert parse_when(condition.text) == condition  # the canonical text reads back the same


@pytest.mark.parametrize(
    "text",
    ["price above", "price over 3", "close crosses 3", "close above wma 3", "change above 2",
     "volume above 2", "volume above 0 x 5", "close above sma 0", "price above nan", "price above 1e400", ""],
)  # fmt: skip
def test_bad_when_texts_say_what_is_accepted(text: str) -> None:
    with pytest.raises(RuleError):
        parse_when(text)


def test_rules_load_with_their_entry_interval_and_a_derived_id(tmp_path: Path) -> None:
    lists = load_watchlists(write(tmp_path, FILE))
    first, second = lists.active_list.alerts
    assert (first.id, first.instrument, first.interval, first.mode, first.note) == (
        "sber-breakout", "SBER_TQBR", Interval.M1, "once", "breakout"
    )  # fmt: skip
    assert second.id == "GAZP_TQBR-close-below-sma-20" and second.interval is Interval.M5
    assert second.mode == "rearm" and second.hysteresis == 0.5
    assert lists.alerts == (first, second)


ONE = 'alerts = [{ instrument = "SBER_TQBR", when = "price above 1"'
BROKEN = [
    ('alerts = [{ instrument = "LKOH_TQBR", when = "price above 1" }]',
     "alerts[0].instrument: instrument LKOH_TQBR is not in the list"),
    ('alerts = [{ instrument = "SBER_TQBR", when = "price abov 1" }]', "alerts[0].when: cannot read"),
    (ONE + ', mode = "twice" }]', "alerts[0].mode: unknown mode"),
    (ONE + ', interval = "5m" }]', "alerts[0].interval: SBER_TQBR is not in the list at 5m"),
    (ONE + ", hysteresis = -1 }]", "alerts[0].hysteresis: expected a distance"),
    (ONE + ", hysteresis = true }]", "alerts[0].hysteresis: expected a distance"),
    (ONE + ", colour = 1 }]", "alerts[0].colour: unknown key"),
    ('alerts = [{ instrument = "SBER_TQBR" }]', "alerts[0]: missing key 'when'"),
    (ONE + ", note = 3 }]", "alerts[0].note: expected a string"),
    (ONE + ', id = "" }]', "alerts[0].id: expected a non-empty string"),
    ('alerts = ["price above 1"]', "alerts[0]: expected { instrument"),
    ("alerts = 3", "alerts: expected an array"),
    ('alerts = [\n  { instrument = "SBER_TQBR", when = "price above 1" },\n'
     '  { instrument = "SBER_TQBR", when = "price  above 1" },\n]',
     "alerts[1].id: duplicate alert id 'SBER_TQBR-price-above-1'"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "message"), BROKEN)
def test_a_bad_rule_is_a_file_line_field_error(tmp_path: Path, line: str, message: str) -> None:
    path = write(tmp_path, HEAD + line + "\n")
    with pytest.raises(WatchlistError) as info:
        load_watchlists(path)
    line_no = 6 if "duplicate" in message else 4  # the rule's own line
    assert str(info.value).startswith(f"{path}:{line_no}: lists[0].{message}"), str(info.value)


def test_ids_are_unique_across_lists(tmp_path: Path) -> None:
    rule = 'alerts = [{ instrument = "SBER_TQBR", when = "price above 1" }]\n'
    text = HEAD + rule + '[[lists]]\nname = "b"\ninstruments = ["SBER_TQBR"]\n' + rule
    with pytest.raises(WatchlistError, match=r"w.toml:8: lists\[1\].alerts\[0\].id: duplicate alert id"):
        load_watchlists(write(tmp_path, text))


def test_add_and_remove_alerts_keep_every_other_byte(tmp_path: Path) -> None:
    path = write(tmp_path, FILE)
    rule = make_rule("SBER_TQBR", "close above 360", Interval.M1, mode="rearm", note="new")
    saved = save_changes(path, [AddAlert("a", rule)])
    text = path.read_text()
    assert text.startswith(FILE.rsplit("]", 1)[0])  # comments and rules before it untouched
    assert saved.watchlists.active_list.alerts[-1] == rule
    assert load_watchlists(path).active_list.alerts[-1] == rule
    save_changes(path, [RemoveAlert("a", "sber-breakout")])
    ids = [r.id for r in load_watchlists(path).active_list.alerts]
    assert ids == ["GAZP_TQBR-close-below-sma-20", rule.id]
    assert "# my list" in path.read_text() and "# two" in path.read_text()


def test_an_alert_on_an_instrument_not_in_the_list_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, FILE)
    saved = save_changes(path, [AddAlert("a", make_rule("LKOH_TQBR", "price above 1"))])
    assert saved.dropped and "not in the list" in saved.dropped[0] and path.read_text() == FILE


def test_the_first_alert_of_a_list_creates_its_array(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD)
    rule = make_rule("GAZP_TQBR", "volume above 3 x 20")
    save_changes(path, [AddAlert("a", rule)])
    loaded = load_watchlists(path).active_list.alerts
    assert loaded == (make_rule("GAZP_TQBR", "volume above 3 x 20", Interval.M5),)


def test_removing_an_instrument_removes_its_alerts(tmp_path: Path) -> None:
    path = write(tmp_path, FILE)
    saved = save_changes(path, [RemoveEntry("a", WatchKey("SBER_TQBR", Interval.M1))])
    assert [r.id for r in saved.watchlists.active_list.alerts] == ["GAZP_TQBR-close-below-sma-20"]
    assert "sber-breakout" not in path.read_text() and "# my list" in path.read_text()


def test_an_entry_interval_change_moves_its_alerts_along(tmp_path: Path) -> None:
    path = write(tmp_path, FILE)
    save_changes(path, [SetInterval("a", WatchKey("GAZP_TQBR", Interval.M5), Interval.H1)])
    assert load_watchlists(path).active_list.alerts[1].interval is Interval.H1


def test_save_watchlists_writes_changed_alerts(tmp_path: Path) -> None:
    path = write(tmp_path, FILE)
    lists = load_watchlists(path)
    from dataclasses import replace

    changed = replace(lists.active_list, alerts=lists.active_list.alerts[1:])
    save_watchlists(path, replace(lists, lists=(changed,)))
    assert load_watchlists(path).active_list.alerts == changed.alerts
    renamed = replace(changed, name="renamed")  # lists differ: merged table by table
    save_watchlists(path, replace(lists, lists=(renamed,), active="renamed"))
    assert load_watchlists(path).active_list.alerts == changed.alerts
    fresh = tmp_path / "new.toml"
    save_watchlists(fresh, load_watchlists(write(tmp_path, FILE)))
    assert load_watchlists(fresh).active_list.alerts == lists.active_list.alerts


def test_the_readme_alerts_example_loads(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Alerts", 1)[1]
    example = section.split("```toml\n", 1)[1].split("```", 1)[0]
    alerts = load_watchlists(write(tmp_path, example)).active_list.alerts
    assert [r.condition.subject for r in alerts] == ["price", "price", "close", "change", "volume"]
    assert alerts[2].interval is Interval.M5 and alerts[0].id == "sber-breakout"
    record = json.loads(section.split("```json\n", 1)[1].split("```", 1)[0])
    assert record["event"] == "alert" and record["rule"] == "sber-breakout"


_VALUES = st.one_of(
    st.text(max_size=30), st.integers(), st.floats(allow_nan=True), st.booleans(),
    st.lists(st.integers(), max_size=2),
)  # fmt: skip
_KINDS = ["price above", "close below sma", "change above", "volume above 2 x", "price crosses"]
_WHEN = st.one_of(
    st.text(max_size=40),
    st.builds(lambda kind, n: f"{kind} {n}", st.sampled_from(_KINDS), st.integers(-(10**30), 10**30)),
)
_TABLES = st.lists(
    st.dictionaries(
        st.sampled_from(["instrument", "when", "mode", "note", "id", "interval", "hysteresis", "x"]),
        _VALUES,
        max_size=7,
    ),
    max_size=3,
)


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(_TABLES, _WHEN)
def test_any_alert_table_loads_or_is_a_file_line_error(
    tmp_path: Path, tables: list[dict[str, object]], when: str
) -> None:
    import tomlkit

    doc = tomlkit.parse(HEAD)
    rules = [{"instrument": "SBER_TQBR", "when": "price above 1", **t} for t in tables]
    rules.append({"instrument": "SBER_TQBR", "when": when})
    doc["lists"][0]["alerts"] = rules
    try:
        text = tomlkit.dumps(doc)
    except (ValueError, TypeError):
        return  # not representable as TOML: nothing a user could type
    path = write(tmp_path, text)
    try:
        loaded = load_watchlists(path)
    except WatchlistError as exc:
        assert re.match(rf"{re.escape(str(path))}:\d+: lists\[0\]\.alerts", str(exc)), str(exc)
    else:
        assert len(loaded.active_list.alerts) == len(rules)
