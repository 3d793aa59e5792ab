"""The examples of ../shared/nats-kubernetes-best-practices.md, copied verbatim into tests/audit/corpus/guide/.

One copy of each example: the audit, the NetworkPolicy table and the diagnostics tests all load them from there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

GUIDE_CORPUS = Path(__file__).parent / "audit" / "corpus" / "guide"


def guide_example(name: str) -> dict[str, Any]:
    """One example (e.g. "networkpolicy-allow-nats"), parsed."""
    document = yaml.safe_load((GUIDE_CORPUS / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document
