"""The official client's entry points, typed as Any: the package ships py.typed but leaves these unannotated."""

from __future__ import annotations

from typing import Any

from kubernetes import config as _config
from kubernetes import watch as _watch
from kubernetes.aio import config as _aio_config
from kubernetes.aio import watch as _aio_watch

new_client_from_config: Any = _config.new_client_from_config
Watch: Any = _watch.Watch
aio_new_client_from_config: Any = _aio_config.new_client_from_config
AioWatch: Any = _aio_watch.Watch
