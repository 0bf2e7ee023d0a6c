"""Quitting: q, Ctrl+C and the signals the CLI forwards all end here, with the feed closed in bounded time."""

from __future__ import annotations

import asyncio

from textual.app import App

from monitor.feed.api import FeedLike

EXIT_INTERRUPTED = 130
"""Ctrl+C, as `monitor` documents for every command."""
CLOSE_TIMEOUT_S = 0.5
"""A hung channel must not hold the terminal: past this the app exits anyway."""


class Quitting(App[int]):
    """The quitting half of MonitorApp."""

    feed: FeedLike

    async def action_quit(self) -> None:
        await self.shutdown(0)

    async def action_interrupt(self) -> None:
        await self.shutdown(EXIT_INTERRUPTED)

    async def shutdown(self, return_code: int) -> None:
        """Closes the feed (at most CLOSE_TIMEOUT_S) and exits with `return_code`; later calls do nothing."""
        if self._exit:
            return
        try:
            await asyncio.wait_for(self.feed.close(), CLOSE_TIMEOUT_S)
        except TimeoutError:
            self.log.warning("the feed did not close in time")
        self.exit(return_code, return_code=return_code)
