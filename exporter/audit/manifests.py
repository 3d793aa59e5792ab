"""Kubernetes objects from YAML manifests: files, directories, multi-document streams, `kind: List`, stdin.

Each object keeps its file and the line of every value (from the YAML nodes' marks), so a finding can say
`file:line`. Input that cannot be read is an `InputError` with its line, and the rest goes on being read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

import yaml

from exporter.audit.model import DEFAULT_NAMESPACE, DEFAULT_OPTIONS, AuditOptions, AuditResult, InputError
from exporter.audit.objects import FieldPath, FileLocator, KubeObject, mapping, object_ref, sequence
from exporter.audit.rules import audit_objects

STDIN = "-"
STDIN_NAME = "<stdin>"
SUFFIXES = (".yaml", ".yml")


class UnreadablePath(Exception):
    """A path named on the command line that cannot be read: a usage error, not a finding."""

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


@dataclass(frozen=True, slots=True)
class Manifests:
    objects: tuple[KubeObject, ...]
    errors: tuple[InputError, ...]
    files: int
    skipped: int  # YAML documents that are not Kubernetes objects (no kind), e.g. a kustomization or Helm values


def read_manifests(paths: Sequence[str], stdin: TextIO, *, default_namespace: str = DEFAULT_NAMESPACE) -> Manifests:
    """Read every path (`-` is stdin; a directory is searched for *.yaml/*.yml, hidden entries skipped).

    Raises `UnreadablePath` for a named path that does not exist or cannot be read.
    """
    objects: list[KubeObject] = []
    errors: list[InputError] = []
    files = skipped = 0
    for name, text in _texts(paths, stdin, errors):
        files += 1
        parsed = parse_documents(text, name, default_namespace=default_namespace)
        objects.extend(parsed.objects)
        errors.extend(parsed.errors)
        skipped += parsed.skipped
    return Manifests(tuple(objects), tuple(errors), files, skipped)


def parse_documents(text: str, path: str, *, default_namespace: str = DEFAULT_NAMESPACE) -> Manifests:
    """Every object in one YAML stream; a syntax error ends the stream (documents before it are kept)."""
    objects: list[KubeObject] = []
    skipped = 0
    loader = yaml.SafeLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                break
            document = loader.construct_document(node)
            lines: dict[FieldPath, int] = {}
            _record_lines(node, (), lines, set(), node.start_mark.line + 1)
            if document is not None and not isinstance(mapping(document).get("kind"), str):
                skipped += 1
            objects.extend(_objects(document, FileLocator(path, lines), default_namespace))
    except yaml.YAMLError as exc:
        return Manifests(tuple(objects), (_yaml_error(path, text, exc),), 1, skipped)
    except RecursionError:
        return Manifests(tuple(objects), (InputError(path, None, "YAML nested too deeply"),), 1, skipped)
    finally:
        loader.dispose()
    return Manifests(tuple(objects), (), 1, skipped)


def _texts(paths: Sequence[str], stdin: TextIO, errors: list[InputError]) -> Iterator[tuple[str, str]]:
    for path in paths:
        if path == STDIN:
            try:
                yield STDIN_NAME, stdin.read()
            except UnicodeDecodeError as exc:
                errors.append(InputError(STDIN_NAME, None, f"not UTF-8 ({exc.reason} at byte {exc.start})"))
        elif os.path.isdir(path):
            yield from _directory(path, errors)
        else:
            try:
                data = _read_bytes(path)
            except OSError as exc:
                raise UnreadablePath(path, exc.strerror or type(exc).__name__) from None
            decoded = _decode(path, data, errors)
            if decoded is not None:
                yield path, decoded


def _directory(path: str, errors: list[InputError]) -> Iterator[tuple[str, str]]:
    try:
        os.listdir(path)
    except OSError as exc:
        raise UnreadablePath(path, exc.strerror or type(exc).__name__) from None

    def unreadable(exc: OSError) -> None:
        errors.append(InputError(str(exc.filename or path), None, f"cannot read: {exc.strerror}"))

    for root, dirs, names in os.walk(path, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or not name.endswith(SUFFIXES):
                continue
            file = os.path.join(root, name)
            try:
                data = _read_bytes(file)
            except OSError as exc:
                errors.append(InputError(file, None, f"cannot read: {exc.strerror}"))
                continue
            decoded = _decode(file, data, errors)
            if decoded is not None:
                yield file, decoded


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as file:
        return file.read()


def _decode(path: str, data: bytes, errors: list[InputError]) -> str | None:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        errors.append(InputError(path, line, f"not UTF-8 ({exc.reason} at byte {exc.start})"))
        return None


def _yaml_error(path: str, text: str, exc: yaml.YAMLError) -> InputError:
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        what = " ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        return InputError(path, line, f"invalid YAML: {what}")
    if isinstance(exc, yaml.reader.ReaderError):
        return InputError(path, text[: exc.position].count("\n") + 1, f"invalid YAML: {exc.reason}")
    return InputError(path, None, f"invalid YAML: {exc}")


def _record_lines(node: yaml.Node, path: FieldPath, lines: dict[FieldPath, int], seen: set[int], line: int) -> None:
    """The 1-based line of every value by its path: a mapping entry's is its key's line (a nested mapping's
    own node starts a line later), an item's is its `-` line. A node reached again through an alias is not
    walked twice, so an alias bomb costs one walk of each node."""
    lines.setdefault(path, line)
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                _record_lines(value, (*path, str(key.value)), lines, seen, key.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _record_lines(item, (*path, index), lines, seen, item.start_mark.line + 1)


def _objects(document: Any, locator: FileLocator, default_namespace: str) -> Iterator[KubeObject]:
    body = mapping(document)
    kind = body.get("kind")
    if not isinstance(kind, str) or not kind:
        return
    if kind.endswith("List") and isinstance(body.get("items"), list):
        # `kind: List` and what `kubectl get -o yaml` prints (ConfigMapList, ...): every item is an object.
        for index, item in enumerate(sequence(body.get("items"))):
            inner = FileLocator(locator.path, locator.lines, (*locator.base, "items", index))
            yield from _objects(item, inner, default_namespace)
        return
    yield KubeObject(object_ref(kind, body, default_namespace), body, locator)


def audit_manifests(paths: Sequence[str], stdin: TextIO, options: AuditOptions = DEFAULT_OPTIONS) -> AuditResult:
    """Read the manifests and audit them as one input. Raises `UnreadablePath` for a named path it cannot read."""
    read = read_manifests(paths, stdin, default_namespace=options.default_namespace)
    notes = []
    if read.skipped:
        many = read.skipped > 1
        notes.append(
            f"{read.skipped} YAML {'documents have' if many else 'document has'} no kind "
            f"(not a Kubernetes object) and {'were' if many else 'was'} skipped"
        )
    if not read.files:
        notes.append("no *.yaml or *.yml files found")
    return audit_objects(read.objects, options, errors=read.errors, notes=notes)
