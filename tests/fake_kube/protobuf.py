"""Just enough of Kubernetes' protobuf encoding to read the one body kubectl sends that way here.

`kubectl auth can-i` POSTs its SelfSubjectAccessReview as protobuf (envelope `k8s\\0` + runtime.Unknown);
everything else it and the Python clients send is JSON, and every answer is JSON (they accept it).
"""

from __future__ import annotations

from typing import Any

from .errors import bad_request

MAGIC = b"k8s\x00"
PROTOBUF = "application/vnd.kubernetes.protobuf"


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= len(data):
            raise bad_request("truncated protobuf varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def fields(data: bytes) -> dict[int, list[bytes | int]]:
    """Field number -> values (bytes for length-delimited, int for varint); fixed-width fields are skipped."""
    out: dict[int, list[bytes | int]] = {}
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
            out.setdefault(number, []).append(value)
        elif wire == 2:
            length, pos = _varint(data, pos)
            out.setdefault(number, []).append(data[pos : pos + length])
            pos += length
        elif wire in (1, 5):
            pos += 8 if wire == 1 else 4
        else:
            raise bad_request(f"unsupported protobuf wire type {wire}")
    return out


def _bytes(message: dict[int, list[bytes | int]], number: int) -> bytes:
    value = message.get(number, [b""])[-1]
    return value if isinstance(value, bytes) else b""


def access_review(body: bytes) -> dict[str, Any]:
    """A SelfSubjectAccessReview from its protobuf envelope, as the JSON dict the rest of the fake reads."""
    if not body.startswith(MAGIC):
        raise bad_request("protobuf body without the k8s envelope")
    review = fields(_bytes(fields(body[len(MAGIC) :]), 2))
    spec = fields(_bytes(review, 2))
    attrs = fields(_bytes(spec, 1))
    names = ("namespace", "verb", "group", "version", "resource", "subresource", "name")
    resource_attributes = {name: _bytes(attrs, i + 1).decode() for i, name in enumerate(names)}
    return {"spec": {"resourceAttributes": resource_attributes} if 1 in spec else {}}
