"""Timestamps in any zone offset name the same instant: what the fake serves parses back to what was written."""

from __future__ import annotations

import datetime

from hypothesis import given
from hypothesis import strategies as st

from tests.fake_kube.timeutil import format_offset, parse_offset, parse_rfc3339, rfc3339_nano

instants = st.integers(min_value=0, max_value=4_102_444_800 * 10**9)  # 1970 to 2100
offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda minutes: minutes * 60)


@given(instants, offsets)
def test_rendered_timestamps_parse_back_to_the_instant(ns: int, offset: int) -> None:
    text = rfc3339_nano(ns, offset).decode()
    assert parse_rfc3339(text) == ns
    assert parse_offset(text[29:]) == offset  # nine digits always: the zone starts at a fixed column


@given(instants, offsets)
def test_rendering_agrees_with_datetime(ns: int, offset: int) -> None:
    zone = datetime.timezone(datetime.timedelta(seconds=offset))
    local = datetime.datetime.fromtimestamp(ns // 10**9, tz=zone)
    text = rfc3339_nano(ns, offset).decode()
    assert text.startswith(local.strftime("%Y-%m-%dT%H:%M:%S") + f".{ns % 10**9:09d}")
    assert text.endswith(format_offset(offset))
    assert text.endswith("Z") == (offset == 0)
