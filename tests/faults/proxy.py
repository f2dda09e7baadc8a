"""A small fault-injecting TCP proxy for the fault tests, run on its own event loop thread.

    proxies = Proxies()
    port = proxies.add("127.0.0.1:7001", ("az1", "az2"))   # a link from az1 to a service of az2
    proxies.isolate("az2")      # reset open connections of every link touching az2, refuse new ones
    proxies.heal()              # forward again
    proxies.close()

Isolation resets connections rather than black-holing them, as a firewall REJECT rule would:
the services notice at once instead of after their RPC deadlines, which keeps the tests short
while still cutting every byte between the isolated AZ and the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
import threading

from services.launcher.cluster import free_ports

CHUNK = 64 * 1024


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), like a refused or torn connection."""
    sock = writer.get_extra_info("socket")
    with contextlib.suppress(OSError):
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Proxies:
    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.isolated: str | None = None
        self.connections = 0
        self.refused = 0
        self._open: dict[asyncio.StreamWriter, tuple[str, str]] = {}
        self._servers: list[asyncio.base_events.Server] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fault-proxy", daemon=True)
        self._thread.start()

    def _call(self, coro):
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=30)

    def add(self, target: str, link: tuple[str, str], port: int | None = None) -> int:
        """Listen on `port` (a free one if None) and forward to target host:port; returns the port.
        link: (from AZ, to AZ), which isolate() matches."""
        port = port or free_ports(1, self.host)[0]
        host, tport = target.rsplit(":", 1)

        async def start():
            self._servers.append(await asyncio.start_server(
                lambda r, w: self._pipe(r, w, host, int(tport), link), self.host, port, reuse_address=True))
        self._call(start())
        return port

    async def _pipe(self, reader, writer, host: str, port: int, link: tuple[str, str]) -> None:
        if self.isolated in link:
            self.refused += 1
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(host, port)
        except OSError:
            _reset(writer)
            return
        if self.isolated in link:         # cut while we connected
            self.refused += 1
            _reset(writer)
            _reset(up_writer)
            return
        self.connections += 1
        self._open.update({writer: link, up_writer: link})

        async def copy(src, dst):
            try:
                while data := await src.read(CHUNK):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                _reset(dst)
        try:
            await asyncio.gather(copy(reader, up_writer), copy(up_reader, writer))
        finally:
            self._open.pop(writer, None)
            self._open.pop(up_writer, None)

    def isolate(self, az: str) -> None:
        async def cut():
            self.isolated = az
            for w, link in list(self._open.items()):
                if az in link:
                    _reset(w)
        self._call(cut())

    def heal(self) -> None:
        async def mend():
            self.isolated = None
        self._call(mend())

    def close(self) -> None:
        async def shut():
            for s in self._servers:
                s.close()
            for w in list(self._open):
                _reset(w)
        self._call(shut())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
