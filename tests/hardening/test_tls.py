"""`monitor check` against a TLS simulator whose CA the client does not trust: names --ca-file."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from monitor.cli.check import check_endpoint
from monitor.feed import FeedConfig

TOKEN = "t." + "tlsTLS" * 7 + "0123456789"  # token-shaped, built at run time


@pytest.fixture
async def tls_sim(tmp_path: Path) -> AsyncIterator[tuple[Any, Path]]:
    """The simulator on 127.0.0.1 with a certificate from a private CA; yields it and the CA file."""
    from monitor.sim import SimConfig, SimServer

    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    config = SimConfig(
        host="127.0.0.1",
        tokens=(TOKEN,),
        tls_cert=str(tmp_path / "cert.pem"),
        tls_key=str(tmp_path / "key.pem"),
    )
    async with SimServer(config) as sim:
        yield sim, tmp_path / "ca.pem"


async def test_untrusted_certificate_names_the_ca_file_setting(tls_sim: tuple[Any, Path]) -> None:
    """Without the CA: the TLS stage fails, says why and points at --ca-file; with it: all OK."""
    sim, ca_file = tls_sim
    out = io.StringIO()
    config = FeedConfig(endpoint=sim.address, token=TOKEN, connect_timeout_s=10)
    assert await check_endpoint(config, ["SBER_TQBR"], out) == 1
    text = out.getvalue()
    assert "TLS handshake   FAILED: certificate verify failed: unable to get local issuer" in text
    assert "--ca-file FILE (or connection.ca_file in the settings file" in text
    assert "auth" not in text  # stopped at the TLS stage
    assert TOKEN not in text

    out = io.StringIO()
    config = FeedConfig(endpoint=sim.address, token=TOKEN, connect_timeout_s=10, ca_file=str(ca_file))
    # The TLS stage once hung 30 s closing its probe connection (no close_notify from gRPC).
    async with asyncio.timeout(10):
        assert await check_endpoint(config, ["SBER_TQBR"], out) == 0
    text = out.getvalue()
    assert "TLS handshake   ok (certificate verified)" in text
    assert "OK  SBER_TQBR" in text and TOKEN not in text


def test_a_ca_file_that_is_a_fifo_or_huge_is_refused_not_read(tmp_path: Path) -> None:
    """`--ca-file` naming a FIFO would hang the connect, a huge file would fill memory: both are
    refused at once with a reason (the channel and `monitor check` read it the same bounded way)."""
    import os

    from monitor.cli.check import _ssl_context
    from monitor.feed.channel import root_certificates
    from monitor.files import CERT_FILE_CAP, UnreadableFile

    fifo = tmp_path / "ca.fifo"
    os.mkfifo(fifo)
    huge = tmp_path / "ca.pem"
    huge.write_bytes(b"-" * (CERT_FILE_CAP + 1))
    for path, reason in ((fifo, "a FIFO"), (huge, "larger than")):
        for read in (root_certificates, _ssl_context):
            with pytest.raises(UnreadableFile, match=reason):
                read(str(path))
