"""Soak, short version: an hour of sim time, 50 series, every fault kind; book equals sim history."""

from __future__ import annotations

import pytest

from tests.hardening.soak import FAULT_KINDS, soak


@pytest.mark.timeout(120)
async def test_soak_every_fault_kind() -> None:
    """Every fault is seen and recovered from, the structures stay bounded, no candle is lost."""
    report = await soak(
        sim_seconds=3600, speed=300, fault_every_s=6 * 60, series=50, min_faults=len(FAULT_KINDS)
    )
    structural = [p for p in report.problems if not p.startswith(report.mismatch_prefix)]
    assert structural == []
    assert report.series == 50
    assert [f.kind for f in report.faults] == list(FAULT_KINDS)
    assert all(f.seen is not None and f.recovered_at is not None for f in report.faults)
    assert report.reconnects >= len(FAULT_KINDS)
    assert report.candles_compared > 50 * 20
    assert report.max_series_len <= report.bound
    assert report.mismatches == []
