"""A tiny authoritative DNS server for tests: A records for cluster names, NXDOMAIN for the rest.

Run inside a network namespace whose resolv.conf points at it, so the exporter resolves service names through the
real system resolver path (search domains, ndots, NXDOMAIN walks), as a pod does with cluster DNS.

    python -m tests.cluster_dns.dns_server 127.0.0.1 53 nats-server.nats.svc.cluster.local=127.0.0.1 ...
"""

from __future__ import annotations

import asyncio
import socket
import struct
import sys
from typing import cast

A, AAAA = 1, 28
NOERROR, NXDOMAIN, FORMERR = 0, 3, 1


def parse_question(packet: bytes) -> tuple[int, str, int, int]:
    """(query id, lower-case name, qtype, offset after the question) of a one-question query."""
    query_id = struct.unpack("!H", packet[:2])[0]
    labels, offset = [], 12
    while packet[offset] != 0:
        length = packet[offset]
        labels.append(packet[offset + 1 : offset + 1 + length].decode("ascii").lower())
        offset += 1 + length
    qtype = struct.unpack("!H", packet[offset + 1 : offset + 3])[0]
    return query_id, ".".join(labels), qtype, offset + 5


def answer(packet: bytes, records: dict[str, list[str]]) -> bytes:
    try:
        query_id, name, qtype, end = parse_question(packet)
    except (IndexError, UnicodeDecodeError, struct.error):
        return packet[:2] + struct.pack("!HHHHH", 0x8180 | FORMERR, 0, 0, 0, 0)
    question = packet[12:end]
    addresses = records.get(name)
    if addresses is None:
        flags, answers = 0x8580 | NXDOMAIN, b""  # authoritative, NXDOMAIN: the resolver walks on to the next search
        count = 0
    else:
        flags = 0x8580
        family_addresses = [a for a in addresses if (":" in a) == (qtype == AAAA)] if qtype in (A, AAAA) else []
        answers = b"".join(
            b"\xc0\x0c"
            + struct.pack("!HHIH", qtype, 1, 5, 16 if qtype == AAAA else 4)
            + socket.inet_pton(socket.AF_INET6 if qtype == AAAA else socket.AF_INET, address)
            for address in family_addresses
        )
        count = len(family_addresses)
    return struct.pack("!HHHHHH", query_id, flags, 1, count, 0, 0) + question + answers


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(answer(data, self.records), addr)


async def serve(host: str, port: int, records: dict[str, list[str]]) -> None:
    loop = asyncio.get_running_loop()
    await loop.create_datagram_endpoint(lambda: _Protocol(records), local_addr=(host, port))
    print("ready", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str]) -> None:
    host, port, *pairs = argv
    records: dict[str, list[str]] = {}
    for pair in pairs:
        name, _, address = pair.partition("=")
        records.setdefault(name.lower().rstrip("."), []).append(address)
    asyncio.run(serve(host, int(port), records))


if __name__ == "__main__":
    main(sys.argv[1:])
