"""JSON columns decode with orjson, but every stored value still reads exactly as the standard
library reads it: integers beyond 64 bits (orjson would give a float) and NaN literals."""

from __future__ import annotations

import json

import pytest

from sliceboard.storage.db import json_loads

CASES = [
    '{"a": 1, "b": [1.5, -2, null, true], "c": {"d": "é\\u00e9"}}',
    '{"big": 123456789012345678901234}',
    '{"edge": 18446744073709551616, "neg": -9223372036854775809}',
    "[NaN, Infinity, -Infinity]",
    '{"id": "12345678901234567890123"}',
    "[9223372036854775807, -9223372036854775808, 0.1]",
]


@pytest.mark.parametrize("text", CASES)
def test_reads_what_the_standard_library_reads(text: str) -> None:
    expected = json.loads(text)
    for given in (text, text.encode()):
        got = json_loads(given)
        assert repr(got) == repr(expected)
        assert type(got) is type(expected)
