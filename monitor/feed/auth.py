"""The one "token rejected" state: every call checks it first and waits while it holds."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc
import structlog
from grpc import aio

from monitor.feed.codes import api_code

log = structlog.get_logger()

T = TypeVar("T")

FATAL_STATUSES = frozenset({grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED})


def rejection(exc: aio.AioRpcError) -> tuple[str, str | None] | None:
    """(reason, API code) when `exc` says the token was rejected; None for any other failure."""
    if exc.code() not in FATAL_STATUSES:
        return None
    trailing = tuple((k, v) for k, v in exc.trailing_metadata() or () if isinstance(v, str))
    message = next((v for k, v in trailing if k.lower() == "message"), None) or exc.details() or ""
    return f"{exc.code().name}: {message}", api_code(exc.details(), trailing)


class TokenRejected(Exception):
    """The API rejected the token: nothing is asked until the user reconnects (`r`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"token rejected ({reason}); fix it, then reconnect (r)")
        self.reason = reason


class TokenGate:
    """Whether the token may be used: open until some call saw it rejected, until `clear()`.

    Whichever call saw UNAUTHENTICATED or PERMISSION_DENIED closes it (the stream's verdict, a
    GetCandles, a look-up); every caller waits on it before a call, so no call goes out with a
    rejected token: retrying it is pointless and, against the real API, hammers it with a bad
    token. Only the user's reconnect (`Feed.reconnect_now()`) or a new run opens it again.
    """

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()
        self._listeners: list[Callable[[str, str | None], None]] = []
        self.reason = ""
        self.code: str | None = None

    @property
    def rejected(self) -> bool:
        return not self._open.is_set()

    def on_reject(self, listener: Callable[[str, str | None], None]) -> None:
        """Registers `listener(reason, code)`, called once per rejection (not for repeats)."""
        self._listeners.append(listener)

    def reject(self, reason: str, code: str | None = None) -> None:
        """The token was rejected: no call until `clear()`; the listeners hear it the first time."""
        if self.rejected:
            return
        self._open.clear()
        self.reason, self.code = reason, code
        log.error("token_rejected", reason=reason, code=code)
        for listener in self._listeners:
            listener(reason, code)

    def clear(self) -> None:
        """The user asked to try again (or the feed starts over): calls may go out."""
        self._open.set()

    async def admitted(self) -> None:
        """Returns at once while the token is not rejected; otherwise when it is cleared."""
        await self._open.wait()

    async def call(self, send: Callable[[], Awaitable[T]]) -> T:
        """`send()` once the token is not rejected; a rejection closes the gate and waits to resend.

        The caller's work is kept, not failed: it goes out again after the reconnect.
        """
        while True:
            await self.admitted()
            try:
                return await send()
            except aio.AioRpcError as exc:
                rejected = rejection(exc)
                if rejected is None:
                    raise
                self.reject(*rejected)
