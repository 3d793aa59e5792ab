"""`audit` as CI runs it: exit 0 when clean, 1 on findings, 2 on usage errors with one line on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .support import CASES, CORPUS, GUIDE, run


def test_clean_manifests_exit_0() -> None:
    result = run(str(GUIDE / "configmap-full-dns-name.yaml"), str(GUIDE / "deployment-configmap-ref.yaml"))
    assert (result.code, result.err) == (0, "")
    assert result.out.endswith("OK: no findings (2 objects, 1 NATS URL)\n")


def test_findings_exit_1() -> None:
    result = run(str(GUIDE / "configmap-ip-address.yaml"))
    assert (result.code, result.err) == (1, "")
    assert "error ip_address: NATS_URL=nats://192.168.194.253:4222" in result.out


def test_warnings_alone_exit_1() -> None:
    assert run(str(CASES / "deployment-hardcoded.yaml")).code == 1


def test_unreadable_yaml_alone_exits_1(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("kind: [\n")
    result = run(str(tmp_path))
    assert result.code == 1
    assert "Unreadable input:" in result.out


def test_kustomize_output_on_stdin() -> None:
    """`kubectl kustomize overlays/prod | nats-connectivity-exporter audit -`"""
    result = run("-", "--format", "json", stdin=(CORPUS / "kustomize-build.yaml").read_text())
    assert result.code == 1
    document = json.loads(result.out)
    assert [(f["rule"], f["name"], f["source"]) for f in document["findings"]] == [
        ("ip_address", "app-config-7b9f8c2k4d", {"path": "<stdin>", "line": 4, "field": "data.NATS_URL"})
    ]
    # The Service api is known, so the rules that need Services ran; the Deployment's reference is inventoried.
    assert document["services_known"] is True
    assert {(e["kind"], e["origin"], e["host_kind"]) for e in document["inventory"]} == {
        ("ConfigMap", "configmap", "ip"),
        ("Deployment", "configmap_ref", "ip"),
    }


def test_github_format_through_the_command() -> None:
    result = run("--format", "github", str(CASES / "deployment-hardcoded.yaml"))
    assert result.out.startswith(
        f"::warning file={CASES / 'deployment-hardcoded.yaml'},line=13,title=hardcoded_in_workload::"
    )


def test_credentials_stay_hidden_through_the_command() -> None:
    for fmt in ("text", "json", "github"):
        result = run("--format", fmt, str(CASES / "credentials.yaml"))
        assert result.code == 1
        assert "s3cret" not in result.out + result.err


def test_no_paths_and_no_cluster_is_a_usage_error() -> None:
    result = run()
    assert (result.code, result.out) == (2, "")
    assert result.err.count("\n") == 1
    assert "manifest paths (- for stdin) or --cluster" in result.err


def test_a_missing_path_is_a_usage_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    result = run(str(GUIDE), str(missing))
    assert (result.code, result.out) == (2, "")
    assert result.err == f"nats-connectivity-exporter audit: cannot read {missing}: No such file or directory\n"


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--key-pattern", "(", "x.yaml"), "--key-pattern='('"),
        (("--cluster-domain", "bad_domain", "x.yaml"), "--cluster-domain='bad_domain'"),
        (("--namespace", "Not-A-Namespace", "x.yaml"), "--namespace='Not-A-Namespace'"),
        (("--cluster", "x.yaml"), "either manifest paths or --cluster, not both"),
    ],
)
def test_bad_flags_are_usage_errors(args: tuple[str, ...], expected: str) -> None:
    result = run(*args)
    assert result.code == 2
    assert expected in result.err
    assert result.err.count("\n") == 1


def test_namespace_flag_places_manifests_without_one() -> None:
    result = run("--namespace", "petrosa-apps", "--format", "json", str(CORPUS / "guide-multi-document.yaml"))
    assert result.code == 0
    assert {e["namespace"] for e in json.loads(result.out)["inventory"]} == {"petrosa-apps"}


def test_cluster_with_a_missing_kubeconfig_is_a_usage_error(tmp_path: Path) -> None:
    missing = tmp_path / "kubeconfig"
    result = run("--cluster", "--kubeconfig", str(missing))
    assert (result.code, result.out) == (2, "")
    assert result.err == f"nats-connectivity-exporter audit: cannot read {missing}: no such kubeconfig file\n"


def test_cluster_with_an_unusable_kubeconfig_is_a_usage_error(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text("apiVersion: v1\nkind: Config\n")
    result = run("--cluster", "--kubeconfig", str(kubeconfig))
    assert (result.code, result.out) == (2, "")
    assert result.err.startswith("nats-connectivity-exporter audit: cannot read the cluster: config: ")
