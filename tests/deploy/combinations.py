"""The value combinations the chart is rendered, linted and validated with: each one a way users install it."""

from __future__ import annotations

from typing import Any

from .support import example_values, without_missing_sources

APPS = "petrosa-apps"

COMBINATIONS: dict[str, dict[str, Any]] = {
    # The chart as it comes: probe the guide's URL; diagnostics and audit cluster-wide; no log following.
    "defaults": {},
    # deploy/examples/petrosa-values.yaml: envFrom petrosa-common-config, logs in petrosa-apps, namespaced RBAC,
    # NetworkPolicy, PDB, ServiceMonitor, PrometheusRule and dashboards for kube-prometheus-stack.
    "petrosa": example_values("petrosa-values.yaml"),
    # Log following at scale, cluster-wide: a StatefulSet of 3 shards, scraped through a PodMonitor.
    "sharded": {
        "config": {"logs": {"selector": "app.kubernetes.io/part-of=petrosa", "per_pod": False}},
        "sharding": {"enabled": True, "shards": 3},
        "podDisruptionBudget": {"enabled": True, "maxUnavailable": 1},
        "podMonitor": {"enabled": True, "additionalLabels": {"release": "kube-prometheus-stack"}},
        "networkPolicy": {"enabled": True, "apiServer": {"cidrs": ["10.0.0.1/32"], "ports": [443]}},
    },
    # TLS and basic auth on the exporter, NATS credentials from Secrets, every scheduling knob.
    "secured": {
        "namespaceOverride": "nats-monitoring",
        "image": {"digest": "sha256:" + "a" * 64, "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "registry"}],
        "config": {
            "targets": [
                {
                    "name": "default",
                    "url": "tls://nats-server.nats.svc.cluster.local:4222",
                    "credentials": {"user": "monitor", "password_env": "NATS_PASSWORD"},
                },
                {
                    "name": "edge",
                    "url": ["nats://nats-0.nats.nats.svc:4222", "nats://nats-1.nats.nats.svc:4222"],
                    "credentials": {"token_env": "EDGE_TOKEN"},
                    "session": False,
                },
            ],
        },
        "env": [
            {"name": "NATS_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "nats-monitor", "key": "password"}}},
            {"name": "EDGE_TOKEN", "valueFrom": {"secretKeyRef": {"name": "nats-edge", "key": "token"}}},
        ],
        "extraSecretMounts": [
            {"name": "nats-creds", "secretName": "nats-monitor-creds", "mountPath": "/var/run/secrets/nats"},
        ],
        "webConfig": {"existingSecret": "exporter-web", "key": "web.yml", "tls": True, "authRequired": True},
        "serviceMonitor": {
            "enabled": True,
            "tlsConfig": {"insecureSkipVerify": False, "serverName": "nce.nats-monitoring.svc"},
            "basicAuth": {
                "username": {"name": "scrape-auth", "key": "username"},
                "password": {"name": "scrape-auth", "key": "password"},
            },
            "metricRelabelings": [{"action": "drop", "regex": "python_gc_.*", "sourceLabels": ["__name__"]}],
        },
        "extraArgs": ["--log.level=debug"],
        "extraVolumes": [{"name": "scratch", "emptyDir": {}}],
        "extraVolumeMounts": [{"name": "scratch", "mountPath": "/scratch"}],
        "podAnnotations": {"example.com/owner": "platform"},
        "podLabels": {"team": "platform"},
        "priorityClassName": "monitoring",
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "monitoring", "operator": "Exists", "effect": "NoSchedule"}],
        "affinity": {
            "podAntiAffinity": {
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 100,
                        "podAffinityTerm": {
                            "topologyKey": "kubernetes.io/hostname",
                            "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "nats-connectivity-exporter"}},
                        },
                    }
                ]
            }
        },
        "topologySpreadConstraints": [
            {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}
        ],
        "dnsConfig": {"options": [{"name": "ndots", "value": "5"}]},
        "service": {"annotations": {"example.com/scrape": "false"}, "labels": {"tier": "monitoring"}},
        "serviceAccount": {"annotations": {"example.com/role": "nats-monitor"}},
        "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
    },
    # No Kubernetes API at all: probes only. No RBAC, no token, a NetworkPolicy without the API server.
    "offline": {
        "rbac": {"logs": False, "diagnostics": False, "audit": False},
        "serviceAccount": {"create": False},
        "networkPolicy": {"enabled": True, "ingressFrom": []},
        "replicas": 2,
    },
    # The node agent: a DaemonSet reading each node's logs from /var/log/pods, scraped through a PodMonitor that
    # labels every series with its node, behind a NetworkPolicy.
    "agent": {
        "mode": "agent",
        "config": {"logs": {"selector": "app.kubernetes.io/part-of=petrosa"}},
        "podMonitor": {"enabled": True, "additionalLabels": {"release": "kube-prometheus-stack"}},
        "networkPolicy": {"enabled": True},
        "tolerations": [{"key": "monitoring", "operator": "Equal", "value": "true", "effect": "NoSchedule"}],
    },
    # Every Prometheus Operator resource, the rules adjusted.
    "operator": {
        "serviceMonitor": {"enabled": True, "additionalLabels": {"release": "monitoring"}, "interval": "15s"},
        "prometheusRule": {
            "enabled": True,
            "additionalLabels": {"release": "monitoring"},
            "additionalRuleLabels": {"team": "platform"},
            "disabled": {"NATSConnectivityExporterAbsent": True},
        },
        "dashboards": {"enabled": True, "namespace": "grafana", "annotations": {"grafana_folder": "NATS"}},
    },
}


AGENTS = frozenset(name for name, values in COMBINATIONS.items() if values.get("mode") == "agent")


def combination(name: str) -> dict[str, Any]:
    return without_missing_sources(COMBINATIONS[name])


# The environment the kubelet would give each combination's container (ConfigMaps, Secrets, downward API).
ENVIRONMENTS: dict[str, dict[str, str]] = {
    "petrosa": {"NATS_URL": "nats://nats-server.nats.svc.cluster.local:4222", "NATS_ENABLED": "true"},
    "secured": {"NATS_PASSWORD": "s3cret", "EDGE_TOKEN": "t0ken"},
}
