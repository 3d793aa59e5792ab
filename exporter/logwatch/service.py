"""Log following as one part of the exporter: the tally, its metrics, and a worker per followed source."""

from __future__ import annotations

import asyncio
import asyncio.sslproto

from exporter.config.logs import LogSettings
from exporter.kube.client import KubeApi
from exporter.kube.pods import PodSink, TeeSink, watch_pods
from exporter.logwatch.file_source import follow_file
from exporter.logwatch.followers import PodFollowers
from exporter.logwatch.lines import LineCounter
from exporter.logwatch.matcher import Matcher
from exporter.logwatch.metrics import LogCollector
from exporter.logwatch.tally import LogSource, LogTally
from exporter.runtime.supervisor import Supervisor, WorkerFactory


class LogWatch:
    def __init__(self, settings: LogSettings, api: KubeApi | None) -> None:
        self.settings = settings
        self.tally = LogTally(per_pod=settings.per_pod)
        self.matcher = Matcher(settings.patterns)
        self.api = api
        self.followers: PodFollowers | None = None
        self.collector = LogCollector(self.tally)

    def start(self, supervisor: Supervisor, stopping: asyncio.Event, *, also: PodSink | None = None) -> None:
        """Start the workers; `also` is told every pod change too (another feature reading the same pods)."""
        selector, api = self.settings.selector, self.api
        if selector is not None and api is not None:
            _shrink_tls_read_buffers()
            followers = PodFollowers(api, self.settings, self.matcher, self.tally, supervisor, stopping)
            self.followers = followers
            for namespace in self.settings.namespaces or (None,):
                sink: PodSink = followers if also is None else TeeSink(followers, also)
                supervisor.start(
                    f"pods:{namespace or '*'}", self._pod_watcher(api, sink, namespace, selector, stopping)
                )
        for app, path in self.settings.files:
            source = LogSource(namespace="", app=app)
            self.tally.add_source(source)  # its series exist at 0 from the start
            counter = LineCounter(source, self.matcher, self.tally, timestamps=False)
            supervisor.start(f"logfile:{app}:{path}", self._file_worker(path, counter, stopping))

    def _pod_watcher(
        self, api: KubeApi, sink: PodSink, namespace: str | None, selector: str, stopping: asyncio.Event
    ) -> WorkerFactory:
        return lambda: watch_pods(api, namespace, selector, self.settings.app_labels, sink, stopping)

    def _file_worker(self, path: str, counter: LineCounter, stopping: asyncio.Event) -> WorkerFactory:
        return lambda: follow_file(path, counter, stopping, from_start=self.settings.from_start)


TLS_READ_BUFFER = 32 * 1024


def _shrink_tls_read_buffers() -> None:
    """asyncio gives each TLS connection a 256 KiB read buffer (`SSLProtocol.max_size`, Python 3.11 and 3.12).

    A thousand followed log streams, each delivering a few lines at a time, would hold a quarter of a gigabyte in
    buffers that are never more than a few KiB full. 32 KiB still reads a whole TLS record (16 KiB) at once.
    The setting is process-wide and read when a connection is made: set before the first stream opens.
    """
    protocol = getattr(asyncio.sslproto, "SSLProtocol", None)
    if protocol is not None and getattr(protocol, "max_size", 0) > TLS_READ_BUFFER:
        protocol.max_size = TLS_READ_BUFFER
