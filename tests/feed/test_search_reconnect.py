"""A search after an outage gets a connect of its own: a server that came back answers at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import grpc
import pytest

from monitor.feed.channel import open_channel
from monitor.feed.config import FeedConfig
from monitor.feed.connection import Connection
from monitor.feed.instruments import InstrumentResolver, SearchFailed
from tests.feed.feedkit import Running, sim_config, wait_for
from tests.feed.test_connects import ConnectCounter, counter

__all__ = ["counter"]  # the fixture, shared with test_connects

REFUSED = (
    "search failed: the server is unavailable (connection refused: nothing listens on that host and port)"
)
HEADERS = (("authorization", "Bearer sim-token"),)


async def test_a_search_after_the_server_returned_is_answered_at_once(
    start_feed: Callable[..., Running], sim: Any, clock: Any
) -> None:
    """Nothing watched, so no stream attempt would renew the failed channel: the server stops, a
    search says it is refused (in words, not gRPC's repr), the server comes back on the same port
    and the very next search is answered, without `r` and without gRPC core's 240 s timer."""
    from monitor.sim import SimServer

    run = start_feed(watch=())
    await wait_for(lambda: bool(run.events), 10, "the feed to start")
    assert any(i.ticker == "SBER" for i in await run.feed.search("SBER"))
    port = sim.port
    await sim.stop()
    # The first search may still go out on the closing connection; the second one connects anew.
    for _ in range(2):
        with pytest.raises(SearchFailed) as failed:
            await run.feed.search("SBER")
        assert str(failed.value).startswith("the server is unavailable (")
    assert f"search failed: {failed.value}" == REFUSED
    connection = run.feed._connection
    failing = grpc.ChannelConnectivity.TRANSIENT_FAILURE
    assert connection is not None and connection.channel.get_state() is failing  # core waits 240 s
    async with SimServer(sim_config(port), clock=clock):
        found = await run.feed.search("GAZP")
        assert any(i.ticker == "GAZP" for i in found)


async def test_each_search_in_an_outage_makes_one_connect(counter: ConnectCounter) -> None:
    """No retry storm: every search on a failed channel renews it once, so the connects are the
    searches' own, one each; a search on a channel that works makes none."""
    connection = Connection(lambda: open_channel(FeedConfig(endpoint=counter.address, plaintext=True)))
    channel = connection.open()
    resolver = InstrumentResolver(connection, HEADERS)
    try:
        for searches in range(1, 4):
            with pytest.raises(SearchFailed, match="the server is unavailable"):
                await resolver.search("SBER")
            assert counter.accepts == searches
        assert connection.renewals == 2  # the first search connected the channel it found
        shut = grpc.ChannelConnectivity.SHUTDOWN
        await wait_for(lambda: channel.get_state() is shut, 10, "the replaced channel to close")
    finally:
        await connection.close()


async def test_a_search_on_a_working_channel_keeps_it(counter: ConnectCounter, sim: Any) -> None:
    """A channel that connected is kept: searches share its one connection."""
    counter.restore(sim.port)
    connection = Connection(lambda: open_channel(FeedConfig(endpoint=counter.address, plaintext=True)))
    connection.open()
    resolver = InstrumentResolver(connection, HEADERS)
    try:
        for query in ("SBER", "GAZP", "LKOH"):
            assert await resolver.search(query)
        assert counter.accepts == 1 and connection.renewals == 0
    finally:
        await connection.close()


async def test_a_one_shot_channel_is_never_renewed_by_a_search(counter: ConnectCounter) -> None:
    """A resolver over a bare channel (one-shot commands) has nothing to renew it with: the search
    fails on that channel and leaves it open for the command's own close."""
    channel = open_channel(FeedConfig(endpoint=counter.address, plaintext=True))
    resolver = InstrumentResolver(channel, HEADERS)
    try:
        for _ in range(2):
            with pytest.raises(SearchFailed, match="the server is unavailable"):
                await resolver.search("SBER")
        assert counter.accepts == 1
        assert channel.get_state() is grpc.ChannelConnectivity.TRANSIENT_FAILURE
    finally:
        await channel.close()
