"""A fake Kubernetes API server that speaks the real wire protocol, for tests (no real cluster runs here).

The official client (sync and `kubernetes.aio`) and kubectl work against it unchanged: HTTPS with a generated
CA, bearer token, discovery, lists/gets with selectors, chunked watches with bookmarks and 410 Expired, pod logs
with kubelet's options and follow semantics, Status errors, Tables for kubectl.

    async with FakeKube() as kube:                      # or: await kube.start() ... await kube.stop()
        kube.add_pod("shop", "web-1", labels={"app": "web"})
        kube.append_lines("shop", "web-1", ["Connected to NATS server"])
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig", namespace="shop")
        ...
        kube.restart_container("shop", "web-1")         # follow streams of the old instance end
        kube.cut_streams()                              # connections drop mid-line
        assert kube.lines_appended() == {...}           # ground truth per container instance

Faults: `cut_streams`, `stall_streams`, `compact`, `forbid`/`unforbid`, `rotate_token`, `throttle` (429).
Kubernetes' unkind parts: zone offsets in log timestamps (`log_offset=`, `set_log_offset`) and explicit, repeated
or inverted `timestamps=`; a pod status that lags kubelet (`status_lag=`, `set_status_lag`); `crash_container`
(CrashLoopBackOff); `delete_pod(grace_period=...)` (Terminating), `terminate_containers`, `finish_deletion`;
`rotate_logs` (kubelet log rotation); bookmarks once a minute (`bookmark_interval=`, `set_bookmark_interval`);
504 for a watch from a future resourceVersion. Evidence: `requests`, `request_counts`, `open_streams`,
`lines_appended`, `lines_written`. `python -m tests.fake_kube --help` runs it standalone,
driven over HTTP at /_control/<action> (see control_http.py).
"""

from .control import FakeKube, to_ns
from .errors import ApiError
from .logs import LogKey, WrittenLine
from .server import RequestRecord

__all__ = ["ApiError", "FakeKube", "LogKey", "RequestRecord", "WrittenLine", "to_ns"]
