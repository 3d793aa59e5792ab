"""The three views of a result: text for people, json for machines, github for pull-request annotations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from exporter.audit import Format, render

from .support import CASES, GUIDE, audit

HERE = Path(__file__).parent


def test_text_report_of_the_guides_ip_address_configmap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    text = render(audit("corpus/guide/configmap-ip-address.yaml"), Format.TEXT)
    assert text == (
        "corpus/guide/configmap-ip-address.yaml\n"
        "  ConfigMap petrosa-apps/petrosa-common-config\n"
        "    corpus/guide/configmap-ip-address.yaml:8: error ip_address: NATS_URL=nats://192.168.194.253:4222\n"
        "      NATS_URL uses the IP address 192.168.194.253, which breaks when NATS moves; a Service name follows it\n"
        "      fix: use the Service name: nats://<service>.<namespace>.svc.cluster.local:4222\n"
        "\n"
        "Notes:\n"
        "  - no Services in the input: unknown_service and short_name_cross_namespace were not checked "
        "(include the NATS Service's manifest, or audit the live cluster with --cluster)\n"
        "\n"
        "FAILED: 1 finding (1 error, 0 warnings); ip_address 1 (1 object, 1 NATS URL)\n"
    )


def test_text_report_groups_by_file_then_object(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    lines = render(audit("corpus/cases/list.yaml", "corpus/cases/bad-yaml.yaml"), Format.TEXT).splitlines()
    headings = [line for line in lines if line and not line.startswith(" ")]
    assert headings[:3] == ["corpus/cases/bad-yaml.yaml", "corpus/cases/list.yaml", "Unreadable input:"]
    assert "  corpus/cases/bad-yaml.yaml:16: invalid YAML: " in "\n".join(lines)
    assert "    corpus/cases/list.yaml:23: warning hardcoded_in_workload: container agent env NATS_URL=" in "\n".join(
        lines
    )
    assert lines[-1] == (
        "FAILED: 4 findings (3 errors, 1 warning); ip_address 3, hardcoded_in_workload 1; 1 unreadable input "
        "(3 objects, 3 NATS URLs)"
    )


def test_text_report_of_a_clean_input() -> None:
    assert render(audit(GUIDE / "configmap-full-dns-name.yaml"), Format.TEXT).endswith(
        "OK: no findings (1 object, 1 NATS URL)\n"
    )


def test_json_report_is_a_stable_document() -> None:
    result = audit(CASES / "list.yaml")
    document = json.loads(render(result, Format.JSON))
    assert list(document) == [
        "schema",
        "ok",
        "counts",
        "services_known",
        "violations",
        "findings",
        "inventory",
        "unreadable",
        "notes",
    ]
    assert document["counts"] == {
        "objects": 2,
        "urls": 2,
        "findings": 3,
        "errors": 2,
        "warnings": 1,
        "unreadable": 0,
        "by_rule": {
            "ip_address": 2,
            "hardcoded_in_workload": 1,
            "short_name_cross_namespace": 0,
            "inconsistent_service": 0,
            "unknown_service": 0,
            "invalid_url": 0,
        },
    }
    first = document["findings"][0]
    assert first == {
        "rule": "ip_address",
        "severity": "error",
        "namespace": "petrosa-apps",
        "kind": "ConfigMap",
        "name": "list-config",
        "container": "",
        "key": "NATS_URL",
        "url": "nats://192.168.194.253:4222",
        "source": {"path": str(CASES / "list.yaml"), "line": 10, "field": "data.NATS_URL"},
        "message": (
            "NATS_URL uses the IP address 192.168.194.253, which breaks when NATS moves; a Service name follows it"
        ),
        "fix": "use the Service name: nats://<service>.<namespace>.svc.cluster.local:4222",
    }
    assert document["inventory"][1]["host_kind"] == "ip"
    assert document["violations"] == [
        {"namespace": "petrosa-apps", "rule": "hardcoded_in_workload", "count": 1},
        {"namespace": "petrosa-apps", "rule": "ip_address", "count": 2},
    ]
    assert render(result, Format.JSON) == render(audit(CASES / "list.yaml"), Format.JSON)


def test_github_annotations(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    lines = render(audit("corpus/cases/list.yaml"), Format.GITHUB).splitlines()
    assert lines[0] == (
        "::error file=corpus/cases/list.yaml,line=10,title=ip_address::ConfigMap petrosa-apps/list-config: "
        "NATS_URL=nats://192.168.194.253:4222: NATS_URL uses the IP address 192.168.194.253, which breaks when NATS "
        "moves; a Service name follows it. Fix: use the Service name: "
        "nats://<service>.<namespace>.svc.cluster.local:4222"
    )
    assert lines[2].startswith("::warning file=corpus/cases/list.yaml,line=23,title=hardcoded_in_workload::")
    assert lines[3].startswith("::notice title=NATS audit::no Services in the input")
    assert lines[-1].startswith("FAILED: 3 findings")


def test_github_annotations_for_stdin_and_unreadable_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(HERE)
    text = (CASES / "deployment-hardcoded.yaml").read_text()
    lines = render(audit("-", "corpus/cases/bad-yaml.yaml", stdin=text), Format.GITHUB).splitlines()
    assert lines[0].startswith(
        "::warning title=hardcoded_in_workload::<stdin>:13: Deployment petrosa-apps/order-service"
    )
    assert lines[2].startswith("::error file=corpus/cases/bad-yaml.yaml,line=16,title=unreadable input::invalid YAML: ")


def test_github_escapes_what_would_break_a_workflow_command(tmp_path: Path) -> None:
    path = tmp_path / "odd, name:100%.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: x}\ndata: {NATS_URL: 10.0.0.1}\n")
    [line] = [line for line in render(audit(path), Format.GITHUB).splitlines() if line.startswith("::error")]
    assert f"file={tmp_path}/odd%2C name%3A100%25.yaml,line=4,title=ip_address::" in line


@pytest.mark.parametrize("fmt", list(Format))
def test_credentials_never_appear_in_any_format(fmt: Format) -> None:
    result = audit(CASES / "credentials.yaml")
    output = render(result, fmt)
    assert "s3cret" not in output
    assert "nats://user:***@10.0.0.5:4222" in output
    assert "nats://***@10.0.0.6:4222" in output
    assert "s3cret" not in repr(result)
