"""A DNS server for tests that answers late, or never, for the names it is told to.

    python -m tests.probe.slow_dns 127.0.0.1 53 slow.test=127.0.0.1@0.5 hung.test=silent fast.test=127.0.0.1

`NAME=ADDRESS@SECONDS` answers after that delay; `NAME=silent` never answers; the rest as tests.cluster_dns does.
"""

from __future__ import annotations

import asyncio
import sys
from typing import cast

from tests.cluster_dns.dns_server import answer, parse_question


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, records: dict[str, list[str]], delays: dict[str, float], silent: set[str]) -> None:
        self.records, self.delays, self.silent = records, delays, silent
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        name = parse_question(data)[1]
        if name in self.silent or self.transport is None:
            return
        reply = answer(data, self.records)
        asyncio.get_running_loop().call_later(self.delays.get(name, 0.0), self.transport.sendto, reply, addr)


async def serve(host: str, port: int, pairs: list[str]) -> None:
    records: dict[str, list[str]] = {}
    delays: dict[str, float] = {}
    silent: set[str] = set()
    for pair in pairs:
        name, _, value = pair.partition("=")
        name = name.lower().rstrip(".")
        if value == "silent":
            silent.add(name)
            continue
        address, _, delay = value.partition("@")
        records.setdefault(name, []).append(address)
        if delay:
            delays[name] = float(delay)
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: _Protocol(records, delays, silent), local_addr=(host, port))
    print("ready", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    host, port, *rest = sys.argv[1:]
    asyncio.run(serve(host, int(port), rest))
