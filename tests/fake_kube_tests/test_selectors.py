"""Label and field selectors: the API server's grammar and its matching rules."""

from __future__ import annotations

import pytest

from tests.fake_kube.errors import ApiError
from tests.fake_kube.resources import POD
from tests.fake_kube.selectors import parse_field_selector, parse_label_selector

LABELS = {"app": "web", "tier": "front", "version": "3"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app!=web", False),
        ("missing!=x", True),
        ("app in (db, web)", True),
        ("app notin (web)", False),
        ("missing notin (web)", True),
        ("tier", True),
        ("!tier", False),
        ("!missing", True),
        ("app=web,tier=back", False),
        ("version>2,version<4", True),
        ("example.com/team=", False),
    ],
)
def test_label_selector_matching(selector: str, matches: bool) -> None:
    assert parse_label_selector(selector).matches(LABELS) is matches


@pytest.mark.parametrize(
    "selector", ["app in (web", "app=web,", "app=(x)", "=web", "app in ()x", "a b", "app=bad value"]
)
def test_bad_label_selectors_are_400(selector: str) -> None:
    with pytest.raises(ApiError) as caught:
        parse_label_selector(selector)
    assert caught.value.code == 400
    assert caught.value.message.startswith("unable to parse requirement")


def test_field_selectors() -> None:
    pod = {"metadata": {"name": "a,b", "namespace": "shop"}, "spec": {"nodeName": "n1"}, "status": {"phase": "Running"}}
    assert parse_field_selector(r"metadata.name=a\,b,status.phase=Running", POD.fields).matches(pod)
    assert parse_field_selector("spec.nodeName!=n2,spec.hostNetwork=false", POD.fields).matches(pod)
    assert not parse_field_selector("metadata.namespace==other", POD.fields).matches(pod)
    with pytest.raises(ApiError) as caught:
        parse_field_selector("metadata.labels=x", POD.fields)
    assert caught.value.message == "field label not supported: metadata.labels"
