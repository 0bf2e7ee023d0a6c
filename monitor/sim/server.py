"""SimServer: the simulator as a real grpc.aio server on a loopback (or any) port."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import grpc
import grpc.aio

from monitor.clock import Clock, ScaledClock
from monitor.market import Candle, Instrument, Interval
from monitor.pb import instruments_pb2_grpc, marketdata_pb2_grpc
from monitor.sim.catalogue import CATALOGUE, Catalogue
from monitor.sim.config import SimConfig
from monitor.sim.faults import Faults, Stats
from monitor.sim.gate import Gate, wait_sim
from monitor.sim.kinds import StreamEnd
from monitor.sim.market import Market
from monitor.sim.sessions import Sessions
from monitor.sim.state import SimState
from monitor.sim.stream_service import StreamService
from monitor.sim.unary import InstrumentsService, MarketDataService
from monitor.sim.universe import generate


def default_origin() -> float:
    """00:00 UTC of today: sim time with speed > 1 is then the same for every start within a day."""
    now = time.time()
    return now - now % 86_400


class SimServer:
    """The simulator. `async with SimServer(cfg) as sim:` or `await sim.start()` ... `await sim.stop()`.

    The market is a pure function of (seed, instrument, sim time) and the default clock a pure
    function of wall time and the flags, so a new SimServer with the same config and clock on the
    same port continues the same market.
    """

    def __init__(self, config: SimConfig | None = None, clock: Clock | None = None) -> None:
        self.config = config or SimConfig()
        origin = self.config.origin if self.config.origin is not None else default_origin()
        self.clock: Clock = clock or ScaledClock(speed=self.config.speed, origin=origin)
        seed = self.config.seed
        catalogue = Catalogue(lambda: (*CATALOGUE, *generate(seed, taken=CATALOGUE)))  # built on first use
        market = Market(catalogue, self.config.seed, Sessions(self.config.sessions))
        self.stats = Stats()
        self.faults = Faults(self.stats, self._outage)
        self.state = SimState(self.config, self.clock, catalogue, market, self.faults, self.stats)
        self._gate = Gate(self.state)
        self._server: grpc.aio.Server | None = None
        self._ticker: asyncio.Task[None] | None = None
        self._restart: asyncio.Task[None] | None = None
        self.port = self.config.port

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.port}"

    @property
    def token(self) -> str:
        """The first configured token ("" when authentication is off)."""
        return self.config.tokens[0] if self.config.tokens else ""

    @property
    def catalogue(self) -> list[Instrument]:
        return [i.instrument for i in self.state.catalogue.items]

    @property
    def market(self) -> Market:
        return self.state.market

    def history(
        self, uid: str, interval: Interval, start: int, end: int, as_of: float | None = None
    ) -> list[Candle]:
        """Closed candles of periods starting in [start, end) as the sim knows them at `as_of` (default
        now): the ground truth a client's book should match, corrections included."""
        item = self.state.catalogue.resolve(uid)
        if item is None:
            raise KeyError(uid)
        at = self.clock.now() if as_of is None else as_of
        return self.state.market.history(item, interval, start, end, at)

    async def start(self) -> None:
        await self._serve()
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick_loop())

    async def stop(self) -> None:
        for task in (self._restart, self._ticker):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._restart = self._ticker = None
        await self._halt()

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *_exc_info: object) -> None:
        await self.stop()

    async def _serve(self) -> None:
        # No SO_REUSEPORT (gRPC's default on Linux): a second simulator on a held port must fail to
        # bind, not silently take half of the new connections.
        server = grpc.aio.server(options=[("grpc.so_reuseport", 0)])
        market_data, stream = self._services()
        marketdata_pb2_grpc.add_MarketDataServiceServicer_to_server(market_data, server)
        marketdata_pb2_grpc.add_MarketDataStreamServiceServicer_to_server(stream, server)
        instruments_pb2_grpc.add_InstrumentsServiceServicer_to_server(
            InstrumentsService(self.state, self._gate), server
        )
        address = f"{self.config.host}:{self.port}"
        if self.config.tls_cert and self.config.tls_key:
            key, cert = Path(self.config.tls_key).read_bytes(), Path(self.config.tls_cert).read_bytes()
            self.port = server.add_secure_port(address, grpc.ssl_server_credentials([(key, cert)]))
        else:
            self.port = server.add_insecure_port(address)
        await server.start()
        self._server = server

    def _services(self) -> tuple[MarketDataService, StreamService]:
        """The market-data and stream servicers: the simulated market's (a replay serves its file)."""
        return MarketDataService(self.state, self._gate), StreamService(self.state, self._gate)

    async def _halt(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            for session in list(self.stats.sessions.values()):
                session.end(StreamEnd.UNAVAILABLE)
            await server.stop(grace=0.2)
            self.stats.sessions.clear()

    async def _outage(self, seconds: float) -> None:
        """Refusing connections the honest way: the server is down, then back on the same port."""
        await self._halt()

        async def back() -> None:
            await wait_sim(self.clock, seconds)
            await self._serve()
            self.faults.restored.set()

        self._restart = asyncio.create_task(back())

    async def _tick_loop(self) -> None:
        """Wakes on wall time and lets every stream send what happened in sim time since its last tick."""
        while True:
            await asyncio.sleep(self.config.tick_seconds)
            now = self.clock.now()
            for session in list(self.stats.sessions.values()):
                session.tick(now)
