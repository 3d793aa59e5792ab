"""nats-connectivity-exporter: can the applications in a Kubernetes cluster reach NATS, and how well?"""

from importlib import metadata

try:
    __version__ = metadata.version("nats-connectivity-exporter")
except metadata.PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

PROG = "nats-connectivity-exporter"
EXIT_USAGE = 2  # a usage or configuration error: one line on stderr naming the key
