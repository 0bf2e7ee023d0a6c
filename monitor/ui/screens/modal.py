"""The base of the monitor's dialogs: a modal screen that is dismissed at most once."""

from __future__ import annotations

from typing import Any, TypeVar

from textual.await_complete import AwaitComplete
from textual.screen import ModalScreen, Screen

ResultT = TypeVar("ResultT")


def dismissable(screen: Screen[Any]) -> bool:
    """Whether `screen` may still dismiss itself: only while it is the top screen.

    Keys arrive in bursts (a fast Enter then Esc): the second handler ran after the first had
    dismissed the screen, and Textual then popped the screen below it (closing that dialog
    without its answer) or raised ScreenStackError on the last one, and the app exited 1.
    """
    return screen.is_active


def nothing_to_await() -> AwaitComplete:
    """What a dismiss that does nothing returns (already complete)."""
    return AwaitComplete()


class Modal(ModalScreen[ResultT]):
    """A dialog whose second `dismiss` (a burst's late key) does nothing."""

    def dismiss(self, result: ResultT | None = None) -> AwaitComplete:
        if not dismissable(self):
            return nothing_to_await()
        return super().dismiss(result)
