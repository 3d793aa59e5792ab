"""Reading manifests: every object with the file and line of its values; bad input is an entry, never a crash."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from exporter.audit.manifests import STDIN_NAME, UnreadablePath, parse_documents, read_manifests

from .support import CASES, CORPUS, audit, summary


def test_multi_document_file_keeps_each_documents_lines() -> None:
    result = audit(CASES / "cross-namespace.yaml")
    assert [(f.rule, f.source.line) for f in result.findings] == [
        ("short_name_cross_namespace", 18),
        ("ip_address", 34),
    ]


def test_list_items_are_objects_with_their_own_lines() -> None:
    result = audit(CASES / "list.yaml")
    assert [summary(f) for f in result.findings] == [
        ("ip_address", "ConfigMap petrosa-apps/list-config", "NATS_URL", "list.yaml", 10),
        ("ip_address", "DaemonSet petrosa-apps/agent", "NATS_URL", "list.yaml", 23),
        ("hardcoded_in_workload", "DaemonSet petrosa-apps/agent", "NATS_URL", "list.yaml", 23),
    ]
    assert result.findings[1].source.field == "spec.template.spec.containers[0].env[0].value"


def test_directory_is_searched_recursively_for_yaml_files_only() -> None:
    result = audit(CORPUS / "tree")
    sources = [(Path(f.source.path).relative_to(CORPUS).as_posix(), f.source.line) for f in result.findings]
    # .hidden/ is skipped, README.txt is not YAML.
    assert sources == [("tree/app.yaml", 7), ("tree/nested/deep.yml", 7)]


def test_stdin_is_read_for_dash() -> None:
    text = (CASES / "deployment-hardcoded.yaml").read_text()
    manifests = read_manifests(["-"], io.StringIO(text))
    [obj] = manifests.objects
    assert obj.source(("spec", "template", "spec", "containers", 0, "env", 0, "value")).path == STDIN_NAME
    assert str(obj.source(("spec", "template", "spec", "containers", 0, "env", 0, "value"))) == "<stdin>:13"


def test_bad_yaml_is_an_error_entry_and_earlier_documents_are_kept() -> None:
    result = audit(CASES / "bad-yaml.yaml")
    assert [summary(f) for f in result.findings] == [
        ("ip_address", "ConfigMap petrosa-apps/before-the-error", "NATS_URL", "bad-yaml.yaml", 7)
    ]
    [error] = result.errors
    assert (Path(error.path).name, error.line) == ("bad-yaml.yaml", 16)
    assert error.message.startswith("invalid YAML: ")
    assert not result.ok


def test_invalid_utf8_is_an_error_entry_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    data = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: caf\xe9\n"
    path.write_bytes(data)
    result = audit(path)
    [error] = result.errors
    assert (error.line, error.message) == (4, f"not UTF-8 (invalid continuation byte at byte {data.index(0xE9)})")
    assert result.objects == 0


def test_unknown_tag_is_an_error_not_a_crash() -> None:
    parsed = parse_documents("kind: ConfigMap\ndata: !Ref other\n", "x.yaml")
    [error] = parsed.errors
    assert error.line == 2
    assert "could not determine a constructor for the tag '!Ref'" in error.message


def test_alias_bomb_is_read_without_blowing_up() -> None:
    lines = ["kind: ConfigMap", "metadata: {name: bomb, namespace: x}", 'a0: &a0 ["nats://1.2.3.4:4222"]']
    lines += [f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}, *a{i - 1}, *a{i - 1}]" for i in range(1, 25)]
    lines.append("data: {NATS_URL: 'nats://nats-server:4222'}")
    parsed = parse_documents("\n".join(lines) + "\n", "bomb.yaml")
    [obj] = parsed.objects
    assert obj.source(("data", "NATS_URL")).line == 28


def test_a_value_merged_in_with_a_merge_key_points_at_where_it_is_written() -> None:
    text = (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: merged\n  namespace: x\n"
        "  annotations: &common\n    NATS_URL: nats://10.0.0.1:4222\n"
        "data:\n  <<: *common\n"
    )
    result = audit("-", stdin=text)
    assert [(f.rule, f.source.line) for f in result.findings] == [("ip_address", 7)]


def test_documents_without_kind_are_skipped_and_counted() -> None:
    manifests = read_manifests(["-"], io.StringIO("- a\n- b\n---\nfoo: bar\n---\n---\nkind: ConfigMap\n"))
    assert (len(manifests.objects), manifests.skipped) == (1, 2)


def test_a_named_path_that_does_not_exist_is_unreadable(tmp_path: Path) -> None:
    with pytest.raises(UnreadablePath) as raised:
        read_manifests([str(tmp_path / "missing.yaml")], io.StringIO())
    assert raised.value.path == str(tmp_path / "missing.yaml")


def test_a_shared_env_alias_points_each_container_at_its_own_env_line() -> None:
    text = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: two, namespace: x}
spec:
  template:
    spec:
      containers:
      - name: first
        env: &env
        - name: NATS_URL
          value: nats://10.0.0.1:4222
      - name: second
        env: *env
"""
    result = audit("-", stdin=text)
    ip = [(f.container, f.source.line) for f in result.findings if f.rule == "ip_address"]
    assert ip == [("first", 11), ("second", 13)]
