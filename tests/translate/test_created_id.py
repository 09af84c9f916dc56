"""The id a v2 `Location` names, table by table (decision P4)."""

from __future__ import annotations

import pytest

from proxy.translate.ids import created_id


@pytest.mark.parametrize("location, expected", [
    ("https://api.capsulecrm.com/api/v2/tasks/59", 59),
    ("http://127.0.0.1:9090/api/v2/tasks/4", 4),
    ("/api/v2/tasks/12", 12),                          # a relative reference
    ("https://api.capsulecrm.com/api/v2/tasks/59/", 59),  # a trailing slash
    ("https://x/api/v2/tasks/7?embed=party#top", 7),   # query and fragment are not the path
    ("  https://x/api/v2/tasks/8  ", 8),               # surrounding spaces
    ("https://x/api/v2/tasks/%31%32", 12),             # percent-encoded digits are digits (RFC 3986)
    ("https://x/api/v2/tasks/" + "9" * 18, int("9" * 18)),
    ("https://x/api/v2/tasks/1", 1),
])
def test_created_id_reads_the_last_path_segment(location, expected):
    assert created_id(location) == expected


@pytest.mark.parametrize("location", [
    "",
    "/",
    "https://x/api/v2/tasks/",
    "https://x/api/v2/tasks",                 # no id at all
    "https://x/api/v2/tasks/0",               # not positive
    "https://x/api/v2/tasks/007",             # a leading zero: not the canonical id
    "https://x/api/v2/tasks/-5",
    "https://x/api/v2/tasks/+5",
    "https://x/api/v2/tasks/1" + "0" * 18,    # 19 digits
    "https://x/api/v2/tasks/1e3",
    "https://x/api/v2/tasks/1.0",
    "https://x/api/v2/tasks/1,2",             # a v2 batch
    "https://x/api/v2/tasks/12abc",
    "https://x/api/v2/tasks/%20",
    "https://x/api/v2/tasks/٣",               # Arabic-Indic digit: isdigit(), not ASCII
    "https://x/api/v2/tasks/²",               # superscript two: isdigit(), not a number
    "https://x/api/v2/tasks/１２",             # fullwidth digits
    "https://x/api/v2/tasks/5/../6x",
    "http://[bad/api/v2/tasks/5",             # not a URL
    "http://x:99999/api/v2/tasks/5",          # port out of range: not a URL
])
def test_created_id_refuses_anything_but_a_plain_positive_id(location):
    assert created_id(location) is None
