"""The async T-Invest client: channel, stream sessions, supervisor, registry, backfill, health."""

from monitor.feed.config import FeedConfig

__all__ = ["Feed", "FeedConfig"]


def __getattr__(name: str) -> object:
    # Feed pulls in grpc; importing FeedConfig alone (settings, CLI parsing) must stay light.
    if name == "Feed":
        from monitor.feed.supervisor import Feed

        return Feed
    raise AttributeError(name)
