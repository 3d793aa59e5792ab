"""The servers' view: the NATS servers' own list of client connections, joined with the application pods.

`sources` asks the servers (CONNZ over the NATS port, or each server's monitoring port) and returns a `ServerView`;
`join` attributes each connection to at most one pod, or says why it cannot; `verdicts` says, per pod, whether it
is connected; `tracker` keeps what accumulates across polls (closes, reconnect gaps); `metrics` and `apps_view` are
views of those results; `loop` runs it every interval.
"""
