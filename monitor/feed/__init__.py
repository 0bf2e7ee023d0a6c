"""The async T-Invest client: channel, stream sessions, supervisor, registry, backfill, health."""
