"""The indicator picker, driven by the pilot: marks, toggles, typed specs with inline errors, save, cancel."""

from __future__ import annotations

from collections.abc import Sequence

from textual.app import App, ComposeResult
from textual.widgets import Input, Label

from monitor.market.indicators import IndicatorSpec, parse_indicator
from monitor.ui.screens.indicators import IndicatorPicker

NOT_DISMISSED = ("not dismissed",)


class Host(App[None]):
    """An app whose only job is to open the picker and keep its answer."""

    def __init__(self, current: Sequence[IndicatorSpec]) -> None:
        super().__init__()
        self.current = current
        self.answer: object = NOT_DISMISSED

    def compose(self) -> ComposeResult:
        yield Label("panel")

    def on_mount(self) -> None:
        self.push_screen(IndicatorPicker(self.current, title="Indicators: SBER 1m"), self.keep)

    def keep(self, result: tuple[IndicatorSpec, ...] | None) -> None:
        self.answer = result


def specs(*texts: str) -> tuple[IndicatorSpec, ...]:
    return tuple(parse_indicator(text) for text in texts)


def picker(app: Host) -> IndicatorPicker:
    screen = app.screen
    assert isinstance(screen, IndicatorPicker)
    return screen


def prompts(app: Host) -> list[str]:
    options = picker(app).options
    return [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]


async def test_it_lists_every_kind_with_defaults_and_marks_what_is_on() -> None:
    app = Host(specs("ema 20", "sma 30"))
    async with app.run_test() as pilot:
        await pilot.pause()
        rows = [" ".join(p.split()[:4]) for p in prompts(app)]
        assert rows == [
            "○ SMA 20 over",
            "● SMA 30 over",  # the panel's own spec sits under its kind
            "● EMA 20 over",
            "○ BB 20 2",
            "○ VWAP over the",
            "○ RSI 14 pane",
            "○ MACD 12 26",
        ]
        assert "pane under volume" in prompts(app)[-1]


async def test_enter_and_space_toggle_and_s_saves_in_the_order_turned_on() -> None:
    app = Host(specs("ema 20"))
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("enter")  # SMA 20 on
        await pilot.press("down", "space")  # EMA 20 off
        await pilot.press("down", "down", "down", "enter")  # RSI 14 on
        assert prompts(app)[1].startswith("○ EMA 20") and prompts(app)[4].startswith("● RSI 14")
        await pilot.press("s")
        await pilot.pause()
    assert app.answer == specs("sma 20", "rsi 14")


async def test_escape_cancels_with_none() -> None:
    app = Host(specs("vwap"))
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("enter", "escape")
        await pilot.pause()
    assert app.answer is None


async def test_a_typed_spec_is_added_and_turned_on() -> None:
    app = Host(())
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("tab")
        assert isinstance(app.focused, Input)
        await pilot.press(*"bb 30 2.5", "enter")
        assert prompts(app)[-1].startswith("● BB 30 2.5")
        assert picker(app).query_one(Input).value == ""
        await pilot.press(*"sma 20", "enter")  # a default already listed: turned on in its row
        assert prompts(app)[0].startswith("● SMA 20") and len(prompts(app)) == 7  # no second row
        await pilot.press("enter")  # an empty input goes back to the list, where s saves
        await pilot.press("s")
        await pilot.pause()
    assert app.answer == specs("bb 30 2.5", "sma 20")


async def test_a_bad_typed_spec_shows_its_error_inline_and_keeps_the_text() -> None:
    app = Host(())
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("tab", *"sma -3", "enter")
        screen = picker(app)
        assert screen.error == "sma: N must be a whole number of candles from 1 to 1000, got '-3'"
        assert screen.query_one(Input).value == "sma -3"
        assert app.answer == NOT_DISMISSED  # s and space went into the input, nothing was saved
        await pilot.press(*(["backspace"] * 6), *"foo 2", "enter")
        assert screen.error.startswith("unknown indicator 'foo'; expected one of: sma N, ema N")
        await pilot.press(*(["backspace"] * 5), *"rsi 7", "enter")
        assert screen.error == ""
        assert prompts(app)[-1].startswith("● RSI 7")


async def test_typing_s_in_the_input_does_not_save() -> None:
    app = Host(())
    async with app.run_test() as pilot:
        await pilot.pause()
        await pilot.press("tab", "s", "space")
        await pilot.pause()
        assert app.answer == NOT_DISMISSED
        assert picker(app).query_one(Input).value == "s "
