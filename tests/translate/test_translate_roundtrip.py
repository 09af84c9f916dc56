"""Property tests: v1 -> v2 -> v1 and v2 -> v1 -> v2 across every zone, 1971-2100.

"v2 stores the task" is simulated from the request body alone (ids -> nested objects), so the
properties test the translation, not an emulator.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from proxy.translate.dates import format_utc
from proxy.resources.task import TASK_SHAPE
from proxy.translate.fields import Context, to_v1, to_v2


def task_to_v2(v1, *, zone, owner_ids, category_ids, creating):
    lists = {"users": [{"id": i, "username": n} for n, i in owner_ids.items()],
             "categories": [{"id": i, "name": n} for n, i in category_ids.items()]}
    return to_v2(TASK_SHAPE, v1, Context(creating=creating, lists=lists, zone_override=zone))


def task_to_v1(v2, *, zone):
    return to_v1(TASK_SHAPE, v2, Context(zone_override=zone))

ZONE_NAMES = sorted(available_timezones())
# Zones with DST in both hemispheres, 30- and 120-minute steps, midnight transitions, negative DST.
DST_ZONES = ["America/New_York", "Europe/London", "Europe/Dublin", "Australia/Sydney",
             "Australia/Lord_Howe", "Pacific/Auckland", "Pacific/Chatham", "America/St_Johns",
             "America/Santiago", "America/Havana", "America/Sao_Paulo", "Asia/Tehran",
             "Antarctica/Troll", "Africa/Casablanca"]

FIRST, LAST = datetime(1971, 1, 1), datetime(2100, 12, 31, 23, 59, 59)

zones = st.sampled_from(ZONE_NAMES).map(ZoneInfo)
instants = st.datetimes(FIRST, LAST).map(lambda dt: dt.replace(microsecond=0, tzinfo=UTC))
walls = st.datetimes(FIRST, LAST).map(lambda dt: dt.replace(microsecond=0))
days = st.dates(FIRST.date(), LAST.date())
# Names as v2 would hold them: not blank, no surrounding whitespace (lookups trim the v1 value).
names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(
    lambda s: s == s.strip() and s)
texts = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=60).filter(str.strip)
# name -> id, ids distinct (v2 ids are unique); names may differ only in case, exact wins.
id_maps = st.lists(names, min_size=1, max_size=8, unique=True).map(
    lambda ns: {name: 1000 + index for index, name in enumerate(ns)})


def v1_due(instant_or_day) -> tuple[str, str]:
    if isinstance(instant_or_day, datetime):
        return "dueDateTime", format_utc(instant_or_day)
    return "dueDate", f"{instant_or_day.isoformat()}T00:00:00Z"


@st.composite
def v1_tasks(draw):
    """(v1 neutral dict with every writable field drawn, owner map, category map)."""
    owners, categories = draw(id_maps), draw(id_maps)
    v1 = {"description": draw(texts)}
    if draw(st.booleans()):
        v1["detail"] = draw(texts)
    if draw(st.booleans()):
        v1["category"] = draw(st.sampled_from(sorted(categories)))
    key, value = v1_due(draw(st.one_of(instants, days)))
    v1[key] = value
    if draw(st.booleans()):
        v1["owner"] = draw(st.sampled_from(sorted(owners)))
    return v1, owners, categories


def store(body: dict, owners: dict, categories: dict, previous: dict | None = None) -> dict:
    """What v2 would hold after this POST (previous None) or PUT: ids become nested objects."""
    task = dict(previous or {"id": 1, "status": "OPEN", "owner": {"id": 0, "username": "token.user"},
                             "createdAt": "2020-01-01T00:00:00Z", "updatedAt": "2020-01-01T00:00:00Z"})
    by_id = {kind: {i: n for n, i in mapping.items()} for kind, mapping in
             (("owner", owners), ("category", categories))}
    for key, value in body.items():
        if key == "owner":
            value = {"id": value["id"], "username": by_id["owner"][value["id"]], "name": "Someone"}
        elif key == "category" and value is not None:
            value = {"id": value["id"], "name": by_id["category"][value["id"]], "colour": "#ff7700"}
        task[key] = value
    return task


def second_occurrence(instant: datetime, zone: ZoneInfo) -> bool:
    return instant.astimezone(zone).fold == 1


def exists(wall: datetime, zone: ZoneInfo) -> bool:
    return wall.replace(tzinfo=zone).astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall


@settings(max_examples=300)
@given(v1_tasks(), zones)
def test_v1_to_v2_to_v1_is_the_identity_on_writable_fields(task, zone):
    v1, owners, categories = task
    assume(not ("dueDateTime" in v1 and second_occurrence(datetime.fromisoformat(v1["dueDateTime"]), zone)))
    body = task_to_v2(v1, zone=zone, owner_ids=owners, category_ids=categories, creating=True)
    back = task_to_v1(store(body, owners, categories), zone=zone)
    assert {key: back.get(key) for key in v1} == v1
    assert not ("dueDate" in back and "dueDateTime" in back)


@settings(max_examples=200)
@given(instants, zones)
def test_due_date_time_follows_the_documented_rule_everywhere(instant, zone):
    """Every instant comes back as the first occurrence of its wall time: itself, unless it was
    the second pass through a repeated hour."""
    v1 = {"description": "x", "dueDateTime": format_utc(instant)}
    back = task_to_v1(store(task_to_v2(v1, zone=zone, owner_ids={}, category_ids={}, creating=True),
                            {}, {}), zone=zone)
    first = instant.astimezone(zone).replace(fold=0).astimezone(UTC)
    assert back["dueDateTime"] == format_utc(first)
    assert (first == instant) is not second_occurrence(instant, zone)


@lru_cache(maxsize=None)
def transitions(zone_name: str, year: int) -> tuple[tuple[datetime, timedelta, timedelta], ...]:
    """(UTC instant, offset before, offset after) of each offset change in that year."""
    zone, found = ZoneInfo(zone_name), []
    day, end = datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)
    before = day.astimezone(zone).utcoffset()
    while day < end:
        after = (day + timedelta(days=1)).astimezone(zone).utcoffset()
        if after != before:
            low, high = day, day + timedelta(days=1)    # low has the old offset, high the new one
            while high - low > timedelta(seconds=1):
                middle = low + timedelta(seconds=(high - low).total_seconds() // 2)
                if middle.astimezone(zone).utcoffset() == before:
                    low = middle
                else:
                    high = middle
            found.append((high, before, after))
        before, day = after, day + timedelta(days=1)
    return tuple(found)


@st.composite
def changes(draw, backward: bool):
    zone_name, year = draw(st.sampled_from(DST_ZONES)), draw(st.integers(1971, 2100))
    picked = [t for t in transitions(zone_name, year) if (t[2] < t[1]) == backward]
    assume(picked)
    return (ZoneInfo(zone_name), *draw(st.sampled_from(picked)))


@settings(max_examples=200)
@given(changes(backward=True), st.data())
def test_second_occurrence_comes_back_one_step_earlier(change, data):
    zone, at, before, after = change
    step = before - after
    instant = at + timedelta(seconds=data.draw(st.integers(0, int(step.total_seconds()) - 1)))
    assert second_occurrence(instant, zone)
    v1 = {"description": "x", "dueDateTime": format_utc(instant)}
    back = task_to_v1(store(task_to_v2(v1, zone=zone, owner_ids={}, category_ids={}, creating=True),
                            {}, {}), zone=zone)
    assert back["dueDateTime"] == format_utc(instant - step)


def v2_to_v1_to_v2(due_on: str, due_time: str | None, zone: ZoneInfo) -> dict:
    v1 = task_to_v1({"id": 1, "description": "x", "dueOn": due_on, "dueTime": due_time}, zone=zone)
    v1 = {key: v1[key] for key in ("dueDate", "dueDateTime") if key in v1}
    return task_to_v2(v1, zone=zone, owner_ids={}, category_ids={}, creating=False)


@settings(max_examples=300)
@given(walls, zones)
def test_v2_to_v1_to_v2_is_the_identity_for_wall_times_that_exist(wall, zone):
    assume(exists(wall, zone))
    assert v2_to_v1_to_v2(wall.date().isoformat(), wall.time().isoformat(), zone) == {
        "dueOn": wall.date().isoformat(), "dueTime": wall.time().isoformat()}


@given(days, zones)
def test_v2_date_only_round_trips_unshifted(day: date, zone):
    assert v2_to_v1_to_v2(day.isoformat(), None, zone) == {"dueOn": day.isoformat(), "dueTime": None}


@settings(max_examples=200)
@given(changes(backward=False), st.data())
def test_wall_time_in_a_gap_moves_forward_by_the_gap(change, data):
    zone, at, before, after = change
    gap = after - before
    start = (at + before).replace(tzinfo=None)       # the wall time the clocks jump from
    wall = start + timedelta(seconds=data.draw(st.integers(0, int(gap.total_seconds()) - 1)))
    assert not exists(wall, zone)
    moved = wall + gap
    assert v2_to_v1_to_v2(wall.date().isoformat(), wall.time().isoformat(), zone) == {
        "dueOn": moved.date().isoformat(), "dueTime": moved.time().isoformat()}


@settings(max_examples=200)
@given(v1_tasks(), zones, st.one_of(instants, days))
def test_put_due_date_clears_a_stored_time(task, zone, new_due):
    """PUT dueDate on a task with a time -> v1 shows dueDate; PUT dueDateTime -> dueDateTime."""
    v1, owners, categories = task
    stored = store(task_to_v2(v1, zone=zone, owner_ids=owners, category_ids=categories, creating=True),
                   owners, categories)
    key, value = v1_due(new_due)
    assume(not (key == "dueDateTime" and second_occurrence(new_due, zone)))
    body = task_to_v2({key: value}, zone=zone, owner_ids=owners, category_ids=categories, creating=False)
    back = task_to_v1(store(body, owners, categories, previous=stored), zone=zone)
    assert back.get(key) == value
    assert {"dueDate", "dueDateTime"} & set(back) == {key}
    assert back["description"] == v1["description"]
