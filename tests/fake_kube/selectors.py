"""labelSelector and fieldSelector: the API server's grammar, validation and matching rules.

A bad selector is a 400 BadRequest, as on a real server, so a client bug shows up here rather than in production.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .errors import ApiError, bad_request


class Op(StrEnum):
    EXISTS = "exists"
    DOES_NOT_EXIST = "!"
    EQUALS = "="
    NOT_EQUALS = "!="
    IN = "in"
    NOT_IN = "notin"
    GT = "gt"
    LT = "lt"


@dataclass(frozen=True, slots=True)
class Requirement:
    key: str
    op: Op
    values: frozenset[str] = frozenset()

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Note the asymmetry the API server has: `!=` and `notin` also match objects without the key."""
        present = self.key in labels
        match self.op:
            case Op.EXISTS:
                return present
            case Op.DOES_NOT_EXIST:
                return not present
            case Op.EQUALS | Op.IN:
                return present and labels[self.key] in self.values
            case Op.NOT_EQUALS | Op.NOT_IN:
                return not present or labels[self.key] not in self.values
            case Op.GT | Op.LT:
                if not present:
                    return False
                try:
                    have, want = int(labels[self.key]), int(next(iter(self.values)))
                except ValueError:
                    return False
                return have > want if self.op is Op.GT else have < want


@dataclass(frozen=True, slots=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)


_SPECIAL = "!(),=<>"
_OPERATORS = ("==", "!=", "=", "!", "<", ">")
_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def _tokens(text: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "(),":
            tokens.append(ch)
            i += 1
        elif ch in "!=<>":
            op = next(o for o in _OPERATORS if text.startswith(o, i))
            tokens.append(op)
            i += len(op)
        else:
            start = i
            while i < len(text) and not text[i].isspace() and text[i] not in _SPECIAL:
                i += 1
            tokens.append(text[start:i])
    return tokens


def _is_identifier(token: str | None) -> bool:
    return token is not None and token not in ("(", ")", ",", *_OPERATORS)


def _fail(detail: str) -> ApiError:
    return bad_request(f"unable to parse requirement: {detail}")


def _validate_key(key: str) -> None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        raise _fail(f'key: Invalid value: "{key}": prefix part must be a lowercase RFC 1123 subdomain')
    if not name or len(name) > 63 or not _NAME.match(name):
        raise _fail(
            f"key: Invalid value: \"{key}\": name part must consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character"
        )


def _validate_value(index: int, key: str, value: str) -> None:
    if len(value) > 63 or not _VALUE.match(value):
        raise _fail(
            f'values[{index}][{key}]: Invalid value: "{value}": a valid label must be an empty string or consist of '
            "alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character"
        )


class _Parser:
    def __init__(self, text: str) -> None:
        self._tokens = _tokens(text)
        self._pos = 0

    def _peek(self) -> str | None:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def _next(self) -> str | None:
        token = self._peek()
        self._pos += 1
        return token

    def parse(self) -> LabelSelector:
        requirements: list[Requirement] = []
        while self._peek() is not None:
            requirements.append(self._requirement())
            token = self._next()
            if token is None:
                break
            if token != ",":
                raise _fail(f"found '{token}', expected: ',' or 'end of string'")
            if self._peek() is None:
                raise _fail("found 'end of string', expected: identifier")
        return LabelSelector(tuple(requirements))

    def _requirement(self) -> Requirement:
        token = self._next()
        if token == "!":
            key = self._next()
            if not _is_identifier(key):
                raise _fail(f"found '{key}', expected: identifier")
            assert key is not None
            _validate_key(key)
            return Requirement(key, Op.DOES_NOT_EXIST)
        if not _is_identifier(token):
            raise _fail(f"found '{token}', expected: !, identifier, or 'end of string'")
        assert token is not None
        key = token
        _validate_key(key)
        if self._peek() in (None, ","):
            return Requirement(key, Op.EXISTS)
        op_token = self._next()
        op = {"=": Op.EQUALS, "==": Op.EQUALS, "!=": Op.NOT_EQUALS, "in": Op.IN, "notin": Op.NOT_IN}.get(
            op_token or "", {">": Op.GT, "<": Op.LT}.get(op_token or "")
        )
        if op is None:
            raise _fail(f"found '{op_token}', expected: in, notin, =, ==, !=, gt, lt")
        values = self._set_values() if op in (Op.IN, Op.NOT_IN) else self._single_value()
        for index, value in enumerate(sorted(values)):
            if op in (Op.GT, Op.LT):
                if not re.fullmatch(r"-?\d+", value):
                    raise _fail(f'values[{index}]: Invalid value: "{value}": must be an integer')
            else:
                _validate_value(index, key, value)
        return Requirement(key, op, frozenset(values))

    def _single_value(self) -> list[str]:
        token = self._peek()
        if token in (None, ","):
            return [""]
        if not _is_identifier(token):
            raise _fail(f"found '{token}', expected: identifier")
        self._next()
        assert token is not None
        return [token]

    def _set_values(self) -> list[str]:
        if self._next() != "(":
            raise _fail("found end of string, expected: '('")
        values: list[str] = []
        expect_value = True
        while True:
            token = self._next()
            if token is None:
                raise _fail("found 'end of string', expected: ')'")
            if token == ")":
                if expect_value:
                    values.append("")
                return values
            if token == ",":
                if expect_value:
                    values.append("")
                expect_value = True
            elif _is_identifier(token) and expect_value:
                values.append(token)
                expect_value = False
            else:
                raise _fail(f"found '{token}', expected: ',', ')' or identifier")


def parse_label_selector(text: str | None) -> LabelSelector:
    """Parse `app=web,tier in (a,b),!legacy`; raises a 400 ApiError like the API server."""
    if not text or not text.strip():
        return LabelSelector()
    return _Parser(text).parse()


@dataclass(frozen=True, slots=True)
class FieldTerm:
    field: str
    value: str
    negated: bool


@dataclass(frozen=True, slots=True)
class FieldSelector:
    terms: tuple[FieldTerm, ...] = ()

    def matches(self, obj: Mapping[str, Any]) -> bool:
        return all((field_value(obj, t.field) == t.value) != t.negated for t in self.terms)


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == separator:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    if escaped:
        current.append("\\")
    parts.append("".join(current))
    return parts


def _unescape(value: str) -> str:
    out: list[str] = []
    chars = iter(value)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, None)
            if nxt not in ("\\", ",", "="):
                raise bad_request(f"invalid field selector: invalid escape sequence: \\{nxt or ''}")
            out.append(nxt)
        else:
            out.append(ch)
    return "".join(out)


def _split_term(term: str) -> tuple[str, str, str]:
    """Find the first operator scanning left to right, preferring `!=` and `==` over `=` (as fields.ParseSelector)."""
    i = 0
    while i < len(term):
        if term[i] == "\\":
            i += 2
            continue
        for op in ("!=", "==", "="):
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
        i += 1
    raise bad_request(f"invalid field selector: invalid selector: '{term}'; can't understand '{term}'")


def parse_field_selector(text: str | None, supported: Sequence[str]) -> FieldSelector:
    """Parse `status.phase=Running,spec.nodeName!=n1`; unknown fields are a 400, as for the real server."""
    if not text or not text.strip():
        return FieldSelector()
    terms: list[FieldTerm] = []
    for raw in _split_unescaped(text, ","):
        if not raw:
            continue
        field, op, value = _split_term(raw)
        field = field.strip()
        if field not in supported:
            raise bad_request(f"field label not supported: {field}")
        terms.append(FieldTerm(field, _unescape(value), op == "!="))
    return FieldSelector(tuple(terms))


def field_value(obj: Mapping[str, Any], path: str) -> str:
    """The string a field selector compares against: missing -> "" (false for booleans), bools lower-case."""
    node: Any = obj
    for part in path.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    if path in ("spec.hostNetwork", "spec.unschedulable") and node is None:
        return "false"
    if isinstance(node, bool):
        return "true" if node else "false"
    return "" if node is None else str(node)
