"""The permissions documented for the probe user are enough, and nothing more is needed."""

from __future__ import annotations

from exporter.cluster.jetstream import run_jetstream_probe
from exporter.cluster.result import RouteResult
from exporter.cluster.routes import close_peers, connect_peer, probe_route
from exporter.cluster.servers import endpoints_from_target
from exporter.config.cluster import JetStreamSettings
from exporter.demo.nats_server import NatsServer
from exporter.probe.phases import run_probe
from tests.conftest import config_from_args

# What the README will list (stream NCE_PROBE, consumer NCE_PROBE_CANARY, default subjects).
PROBE_PERMISSIONS = """
publish: {allow: [
  "_nce.probe.>", "_nce.jetstream.NCE_PROBE",
  "$JS.API.INFO", "$JS.API.STREAM.INFO.NCE_PROBE", "$JS.API.STREAM.CREATE.NCE_PROBE",
  "$JS.API.CONSUMER.INFO.NCE_PROBE.NCE_PROBE_CANARY", "$JS.API.CONSUMER.DURABLE.CREATE.NCE_PROBE.NCE_PROBE_CANARY",
  "$JS.API.CONSUMER.MSG.NEXT.NCE_PROBE.NCE_PROBE_CANARY", "$JS.ACK.NCE_PROBE.NCE_PROBE_CANARY.>"
]}
subscribe: {allow: ["_nce.probe.>", "_INBOX.>"]}
"""


async def test_the_documented_permissions_let_every_probe_pass() -> None:
    config = (
        'jetstream { store_dir: "js" }\n'
        f"authorization {{ users: [ {{user: probe, password: secret, permissions: {{{PROBE_PERMISSIONS}}}}} ] }}\n"
    )
    server = NatsServer(config=config)
    await server.start()
    try:
        target = config_from_args("--nats-url", f"nats://probe:secret@{server.host}:{server.port}").targets[0]
        core = await run_probe(target)
        canary = await run_jetstream_probe(target, JetStreamSettings(enabled=True), servers=1)
        canary_again = await run_jetstream_probe(target, JetStreamSettings(enabled=True), servers=1)
        (endpoint,) = endpoints_from_target(target)
        a = await connect_peer(target, endpoint, "a", target.credentials)
        b = await connect_peer(target, endpoint, "b", target.credentials)
        try:
            route = await probe_route(a, b, timeout=3, subject_prefix=target.subject_prefix)
        finally:
            await close_peers([a, b])
    finally:
        await server.close()

    assert core.ok, core.detail
    assert canary.ok, canary  # creates the stream and the consumer
    assert canary_again.ok, canary_again  # finds them
    assert route.result is RouteResult.SUCCESS, route.detail


async def test_a_route_probe_denied_its_subject_says_so() -> None:
    config = (
        "authorization { users: [ {user: probe, password: secret, permissions: "
        '{subscribe: {deny: ["_nce.probe.route.>"]}}} ] }\n'
    )
    server = NatsServer(config=config)
    await server.start()
    try:
        target = config_from_args("--nats-url", f"nats://probe:secret@{server.host}:{server.port}").targets[0]
        (endpoint,) = endpoints_from_target(target)
        a = await connect_peer(target, endpoint, "a", target.credentials)
        b = await connect_peer(target, endpoint, "b", target.credentials)
        try:
            route = await probe_route(a, b, timeout=2, subject_prefix=target.subject_prefix)
        finally:
            await close_peers([a, b])
    finally:
        await server.close()

    assert route.result is RouteResult.PERMISSION_DENIED, route
