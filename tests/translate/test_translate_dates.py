"""Due-date rules, table by table: v1 dueDate/dueDateTime <-> v2 dueOn/dueTime, DST, timestamps."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from proxy.translate.dates import (due_date_time_to_v1, due_date_time_to_v2, due_date_to_v1,
                                   due_date_to_v2, parse_due_time, timestamp_to_v1, zone_for)
from proxy.translate.errors import InvalidField, UpstreamDataError

# --- v1 dueDate -> v2 dueOn: the date as written, never shifted ---

@pytest.mark.parametrize("text", [
    "2010-04-21T00:00:00Z",
    "2010-04-21",
    "2010-04-21T00:00:00",
    "2010-04-21T00:00Z",
    "2010-04-21T00:00:00.000Z",
    "2010-04-21T00:00:00+14:00",   # an offset does not move the date...
    "2010-04-21T00:00:00-05:00",   # ...in either direction
    "2010-04-21T00:00:00+0530",
    "2010-04-21t00:00:00z",
    "  2010-04-21T00:00:00Z\n",    # indented XML text
])
def test_due_date_keeps_the_written_date(text):
    assert due_date_to_v2(text) == "2010-04-21"


def test_due_date_leap_day():
    assert due_date_to_v2("2012-02-29T00:00:00Z") == "2012-02-29"


@pytest.mark.parametrize("text, words", [
    ("2010-04-21T15:00:00Z", ["dueDate has no time of day", "dueDateTime", "15:00:00"]),
    ("2010-04-21T00:00:00.5Z", ["dueDate has no time of day"]),
    ("2010-04-21T00:00:01+02:00", ["dueDate has no time of day"]),
    ("2010-02-30T00:00:00Z", ["not a real date", "2010-02-30"]),
    ("2010-04-21T24:00:00Z", ["not a real date"]),
    ("21/04/2010", ["ISO 8601", "21/04/2010"]),
    ("", ["ISO 8601"]),
    ("２０１０-04-21", ["ISO 8601"]),                 # full-width digits are not digits here
    ("2010-04-21Z", ["ISO 8601"]),
    ("2010-04-21T00:00:00+25:00", ["impossible UTC offset"]),
])
def test_due_date_errors_name_the_field_and_value(text, words):
    with pytest.raises(InvalidField) as caught:
        due_date_to_v2(text)
    assert caught.value.field == "dueDate"
    for word in words:
        assert word in caught.value.message


def test_due_date_to_v1_is_midnight_z():
    assert due_date_to_v1("2015-10-01") == "2015-10-01T00:00:00Z"


# --- v1 dueDateTime (UTC instant) <-> v2 dueOn + dueTime in the user's zone ---

SUMMER_2010 = "2010-04-21T15:00:00Z"   # north: DST on; south: DST already over
WINTER_2010 = "2010-01-15T03:30:00Z"   # north: standard time; south: DST on

ZONE_TABLE = [
    # zone, UTC instant, local dueOn, local dueTime
    ("UTC", SUMMER_2010, "2010-04-21", "15:00:00"),
    ("America/New_York", SUMMER_2010, "2010-04-21", "11:00:00"),    # EDT -4
    ("Europe/London", SUMMER_2010, "2010-04-21", "16:00:00"),       # BST +1
    ("Australia/Sydney", SUMMER_2010, "2010-04-22", "01:00:00"),    # AEST +10, next day
    ("Pacific/Auckland", SUMMER_2010, "2010-04-22", "03:00:00"),    # NZST +12, next day
    ("Asia/Kolkata", SUMMER_2010, "2010-04-21", "20:30:00"),        # +05:30
    ("America/St_Johns", SUMMER_2010, "2010-04-21", "12:30:00"),    # NDT -02:30
    ("UTC", WINTER_2010, "2010-01-15", "03:30:00"),
    ("America/New_York", WINTER_2010, "2010-01-14", "22:30:00"),    # EST -5, previous day
    ("Europe/London", WINTER_2010, "2010-01-15", "03:30:00"),       # GMT
    ("Australia/Sydney", WINTER_2010, "2010-01-15", "14:30:00"),    # AEDT +11
    ("Pacific/Auckland", WINTER_2010, "2010-01-15", "16:30:00"),    # NZDT +13
    ("Asia/Kolkata", WINTER_2010, "2010-01-15", "09:00:00"),
    ("America/St_Johns", WINTER_2010, "2010-01-15", "00:00:00"),    # NST -03:30, local midnight
    ("Pacific/Auckland", "2010-04-21T11:59:59Z", "2010-04-21", "23:59:59"),
    ("Pacific/Auckland", "2010-04-21T12:00:00Z", "2010-04-22", "00:00:00"),
]


@pytest.mark.parametrize("zone, instant, due_on, due_time", ZONE_TABLE)
def test_due_date_time_both_ways(zone, instant, due_on, due_time):
    assert due_date_time_to_v2(instant, ZoneInfo(zone)) == (due_on, due_time)
    assert due_date_time_to_v1(due_on, due_time, ZoneInfo(zone)) == instant


@pytest.mark.parametrize("text", [
    "2010-04-21T17:00:00+02:00",
    "2010-04-21T10:00:00-05:00",
    "2010-04-21T10:00:00-0500",
    "2010-04-21T20:30:00+0530",
    "2010-04-21T20:30:00+05:30",
    "2010-04-21T17:00:00+02",
    "2010-04-21T15:00:00-00:00",
    "2010-04-21T15:00:00",            # no offset: UTC, like every v1 timestamp
    "2010-04-21T15:00Z",              # no seconds
    "2010-04-21T15:00:00.999Z",       # fraction truncated, not rounded up
    "2010-04-21T15:00:00,5Z",
    "2010-04-22T01:00:00+10:00",      # the offset moves the UTC date back
    "2010-04-21t15:00:00z",
    " 2010-04-21T15:00:00Z ",
])
def test_due_date_time_offsets_are_converted_to_utc(text):
    assert due_date_time_to_v2(text, ZoneInfo("UTC")) == ("2010-04-21", "15:00:00")


def test_instant_beyond_the_calendar_in_the_users_zone_is_rejected():
    with pytest.raises(InvalidField, match="out of range"):
        due_date_time_to_v2("9999-12-31T23:00:00Z", ZoneInfo("Pacific/Auckland"))


def test_negative_offset_moves_the_utc_date_forward():
    assert due_date_time_to_v2("2010-04-21T22:00:00-05:00", ZoneInfo("UTC")) == ("2010-04-22", "03:00:00")


@pytest.mark.parametrize("text, words", [
    ("2010-04-21", ["needs a time of day", "dueDate"]),
    ("2010-04-21T25:00:00Z", ["not a real date"]),
    ("2010-04-21T15:60:00Z", ["not a real date"]),
    ("2010-04-21T15:00:60Z", ["not a real date"]),      # no leap seconds
    ("2010-04-21T15:00:00+24:00", ["impossible UTC offset"]),
    ("2010-04-21T15:00:00+05:60", ["impossible UTC offset"]),
    ("2010-04-21T15:00:00 Z", ["ISO 8601"]),
    ("tomorrow at three", ["ISO 8601", "tomorrow at three"]),
    ("0001-01-01T00:00:00+01:00", ["out of range"]),
])
def test_due_date_time_errors(text, words):
    with pytest.raises(InvalidField) as caught:
        due_date_time_to_v2(text, ZoneInfo("Europe/London"))
    assert caught.value.field == "dueDateTime"
    for word in words:
        assert word in caught.value.message


# --- DST: the gap and overlap rule (local -> UTC uses fold=0) ---

GAP_TABLE = [
    # zone, dueOn, a wall time that does not exist, the instant it becomes (offset before the jump)
    ("America/New_York", "2021-03-14", "02:30:00", "2021-03-14T07:30:00Z"),   # = 03:30 EDT
    ("Europe/London", "2021-03-28", "01:30:00", "2021-03-28T01:30:00Z"),      # = 02:30 BST
    ("Australia/Sydney", "2021-10-03", "02:30:00", "2021-10-02T16:30:00Z"),   # = 03:30 AEDT
    ("Pacific/Auckland", "2021-09-26", "02:30:00", "2021-09-25T14:30:00Z"),   # = 03:30 NZDT
    ("America/St_Johns", "2021-03-14", "02:30:00", "2021-03-14T06:00:00Z"),   # = 03:30 NDT
    ("Australia/Lord_Howe", "2021-10-03", "02:15:00", "2021-10-02T15:45:00Z"),  # 30-minute DST
    ("America/Havana", "2021-03-14", "00:30:00", "2021-03-14T05:30:00Z"),     # the gap is at midnight
]

OVERLAP_TABLE = [
    # zone, dueOn, a wall time that happens twice, its first occurrence
    ("America/New_York", "2021-11-07", "01:30:00", "2021-11-07T05:30:00Z"),   # EDT, not EST
    ("Europe/London", "2021-10-31", "01:30:00", "2021-10-31T00:30:00Z"),      # BST, not GMT
    ("Australia/Sydney", "2021-04-04", "02:30:00", "2021-04-03T15:30:00Z"),   # AEDT
    ("Pacific/Auckland", "2021-04-04", "02:30:00", "2021-04-03T13:30:00Z"),   # NZDT
    ("America/St_Johns", "2021-11-07", "01:30:00", "2021-11-07T04:00:00Z"),   # NDT
    ("Australia/Lord_Howe", "2021-04-04", "01:45:00", "2021-04-03T14:45:00Z"),
]


@pytest.mark.parametrize("zone, due_on, due_time, instant", GAP_TABLE)
def test_gap_uses_the_offset_before_the_transition(zone, due_on, due_time, instant):
    assert due_date_time_to_v1(due_on, due_time, ZoneInfo(zone)) == instant


@pytest.mark.parametrize("zone, due_on, due_time, instant", OVERLAP_TABLE)
def test_overlap_is_the_first_occurrence(zone, due_on, due_time, instant):
    assert due_date_time_to_v1(due_on, due_time, ZoneInfo(zone)) == instant


@pytest.mark.parametrize("zone, second, wall, first", [
    ("America/New_York", "2021-11-07T06:30:00Z", ("2021-11-07", "01:30:00"), "2021-11-07T05:30:00Z"),
    ("Europe/London", "2021-10-31T01:30:00Z", ("2021-10-31", "01:30:00"), "2021-10-31T00:30:00Z"),
    ("Australia/Sydney", "2021-04-03T16:30:00Z", ("2021-04-04", "02:30:00"), "2021-04-03T15:30:00Z"),
    ("Australia/Lord_Howe", "2021-04-03T15:15:00Z", ("2021-04-04", "01:45:00"), "2021-04-03T14:45:00Z"),
])
def test_second_occurrence_comes_back_as_the_first(zone, second, wall, first):
    """v2 keeps only the wall time, so the repeated hour's second pass cannot round-trip."""
    assert due_date_time_to_v2(second, ZoneInfo(zone)) == wall
    assert due_date_time_to_v1(*wall, ZoneInfo(zone)) == first


# --- v2 values that are not what the docs promise ---

def test_v2_due_time_without_seconds_is_tolerated():
    assert parse_due_time("18:00").isoformat() == "18:00:00"
    assert due_date_time_to_v1("2014-05-20", "18:00", ZoneInfo("UTC")) == "2014-05-20T18:00:00Z"


@pytest.mark.parametrize("due_on, due_time", [
    ("2015-13-01", None), ("20151001", None), ("", None), (None, None),
    ("2015-10-01", "25:00:00"), ("2015-10-01", "6pm"), ("2015-10-01", "18:00:00+01:00"),
])
def test_malformed_v2_dates_are_upstream_errors(due_on, due_time):
    with pytest.raises(UpstreamDataError):
        if due_time is None:
            due_date_to_v1(due_on)
        else:
            due_date_time_to_v1(due_on, due_time, ZoneInfo("UTC"))


# --- v2 timestamps -> v1 createdOn/updatedOn/completedOn ---

@pytest.mark.parametrize("v2, v1", [
    ("2015-10-26T14:37:52Z", "2015-10-26T14:37:52Z"),
    ("2015-10-26T14:37:52.123Z", "2015-10-26T14:37:52Z"),
    ("2015-10-26T14:37:52.999999Z", "2015-10-26T14:37:52Z"),   # truncated, not rounded
    ("2015-10-26T14:37:52+00:00", "2015-10-26T14:37:52Z"),
    ("2015-10-26T15:37:52+01:00", "2015-10-26T14:37:52Z"),
    ("2015-10-26T00:37:52+01:00", "2015-10-25T23:37:52Z"),
    ("2015-10-26T14:37:52", "2015-10-26T14:37:52Z"),           # no offset: UTC
])
def test_timestamps(v2, v1):
    assert timestamp_to_v1(v2) == v1


@pytest.mark.parametrize("value", ["yesterday", "", None, 1445870272])
def test_bad_timestamps_are_upstream_errors(value):
    with pytest.raises(UpstreamDataError):
        timestamp_to_v1(value)


# --- zones ---

def test_zone_for():
    assert zone_for("Europe/London") is ZoneInfo("Europe/London")
    assert zone_for(None) == ZoneInfo("UTC")
    assert zone_for("") == ZoneInfo("UTC")


@pytest.mark.parametrize("name", ["Mars/Olympus_Mons", "America", "../../etc/passwd", "/etc/localtime"])
def test_unknown_zone_is_an_upstream_error(name):
    with pytest.raises(UpstreamDataError, match="unknown time zone"):
        zone_for(name)


def test_a_client_cannot_fill_the_instant_cache_with_long_texts():
    """parse_instant is cached on the client's text; an absurdly long (valid) one is not kept."""
    from proxy.translate import dates
    long_text = "2010-04-21T15:00:00." + "0" * 100_000 + "Z"
    before = dates._parse_instant.cache_info().currsize
    assert dates.parse_instant(long_text) == dates.parse_instant("2010-04-21T15:00:00Z")
    assert dates._parse_instant.cache_info().currsize <= before + 1      # the short one only
