"""Due dates and timestamps: v1 UTC text <-> v2 dates and local wall-clock times.

v1 has two mutually exclusive due fields, v2 a date and an optional time of day:

    v1 dueDate      2010-04-21T00:00:00Z  <->  v2 dueOn "2010-04-21", no dueTime
    v1 dueDateTime  2010-04-21T15:00:00Z  <->  v2 dueOn + dueTime "HH:MM:SS", in the user's zone

A dueDate is a calendar day, not an instant: its date is taken as written and never shifted
by any zone. A dueDateTime is an instant; v2 keeps it as wall-clock time in the requesting
user's IANA zone, which the caller passes in as a `ZoneInfo`.

Rules the Capsule documents leave open, decided here:

* Accepted v1 input: `YYYY-MM-DD`, optionally `THH:MM` or `THH:MM:SS`, optionally fractional
  seconds, optionally `Z` or an offset `+HH`, `+HHMM`, `+HH:MM` (also lower-case `t`/`z`).
  Surrounding whitespace is ignored (XML bodies often indent text).
* dueDate: a time other than midnight is an error (use dueDateTime); an offset is accepted
  and ignored, because the date is taken as written.
* dueDateTime: an offset other than Z is converted to UTC first. No offset means UTC, since
  every v1 timestamp was UTC. Fractional seconds are dropped (truncated, not rounded): v2
  keeps whole seconds, and JavaScript's `toISOString()` always sends `.000`. A date without
  a time of day is an error (use dueDate).
* Local -> UTC (v2 -> v1) follows Python's fold=0:
  - gap (a wall time that does not exist, e.g. 02:30 on the spring-forward day in
    America/New_York) -> read with the offset in force before the transition, so the
    instant lands as far after the gap's start as the wall time was (02:30 EST = 07:30Z,
    which is 03:30 EDT: the time moves forward by the gap's length);
  - overlap (a wall time that happens twice, e.g. 01:30 on the fall-back day) -> the first
    occurrence.
  UTC -> local is always unambiguous. Consequence: a v1 instant in the *second* occurrence
  of a repeated hour cannot round-trip, because v2 stores only the wall time; it comes back
  as the first occurrence (one DST step, usually an hour, earlier).
* v2 timestamps (createdAt, ...) may carry fractional seconds or `+00:00`; v1 gets
  `YYYY-MM-DDTHH:MM:SSZ` (fraction truncated, offset applied; no offset means UTC).

The zone conversions are pure and repeat (a list's tasks share due times, a client sends the
same document again), so they are cached per (value, zone), 4,096 entries each (issue 14).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import InvalidField, UpstreamDataError

# re.ASCII: \d must not accept other scripts' digits, which int() would happily read.
_V1_STAMP = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})"
    r"(?:[Tt](?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?"
    r"(?P<offset>[Zz]|(?P<sign>[+-])(?P<oh>\d{2})(?::?(?P<om>\d{2}))?)?)?",
    re.ASCII,
)
_V2_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)
# HH:MM is tolerated: some v2 writers send it (the docs' own example has seconds).
_V2_TIME = re.compile(r"(\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?", re.ASCII)
_CANONICAL_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", re.ASCII)
_MIDNIGHT = time(0)
_UTC_ZONE = ZoneInfo("UTC")


class _Stamp(NamedTuple):
    """A v1 date-time as written: the calendar day, the clock time if any, the offset if any."""
    day: date
    clock: time | None
    offset: timedelta | None


def _parse_v1(field: str, text: str) -> _Stamp:
    match = _V1_STAMP.fullmatch(text.strip())
    if match is None:
        raise InvalidField(field, f"{field} must be an ISO 8601 date-time such as "
                                  f"2010-04-21T15:00:00Z, got {text!r}")
    try:
        day = date.fromisoformat(match["date"])
        clock = None
        if match["hour"] is not None:
            micro = int((match["fraction"] or "0")[:6].ljust(6, "0"))
            clock = time(int(match["hour"]), int(match["minute"]), int(match["second"] or 0), micro)
    except ValueError:
        raise InvalidField(field, f"{field} is not a real date and time: {text!r}") from None
    return _Stamp(day, clock, _offset(field, text, match))


def _offset(field: str, text: str, match: re.Match[str]) -> timedelta | None:
    if match["offset"] is None:
        return None
    if match["sign"] is None:  # Z
        return timedelta(0)
    hours, minutes = int(match["oh"]), int(match["om"] or 0)
    if hours > 23 or minutes > 59:
        raise InvalidField(field, f"{field} has an impossible UTC offset: {text!r}")
    offset = timedelta(hours=hours, minutes=minutes)
    return -offset if match["sign"] == "-" else offset


def format_utc(instant: datetime) -> str:
    """An aware datetime as v1 writes every timestamp: `YYYY-MM-DDTHH:MM:SSZ`, no fraction."""
    # isoformat, not strftime: %Y does not zero-pad years below 1000 on every platform.
    return instant.astimezone(UTC).replace(microsecond=0, tzinfo=None).isoformat() + "Z"


# --- v1 -> v2 ---

def due_date_to_v2(text: str) -> str:
    """v1 `dueDate` -> v2 `dueOn`: the calendar date exactly as written, never shifted.

    A time other than midnight is rejected: it would be silently lost, and the client
    probably meant dueDateTime. An offset is ignored (the date is the date).
    """
    stamp = _parse_v1("dueDate", text)
    if stamp.clock not in (None, _MIDNIGHT):
        raise InvalidField("dueDate", f"dueDate has no time of day; use dueDateTime for a task "
                                      f"due at {stamp.clock.isoformat()} (got {text!r})")
    return stamp.day.isoformat()


def parse_instant(text: str, field: str = "dueDateTime") -> datetime:
    """A v1 date-time with a time of day -> an aware UTC datetime, whole seconds.

    No offset means UTC; a fraction of a second is dropped.
    """
    # The cache is keyed on the client's text: a text longer than any usual stamp (a fraction of a
    # million digits is valid) is parsed uncached, so no client can fill memory with keys.
    return _parse_instant(text, field) if len(text) <= _CACHED_TEXT else _parse_instant.__wrapped__(text, field)


_CACHED_TEXT = 40


@lru_cache(maxsize=4096)
def _parse_instant(text: str, field: str) -> datetime:
    stamp = _parse_v1(field, text)
    if stamp.clock is None:
        raise InvalidField(field, f"{field} needs a time of day, e.g. 2010-04-21T15:00:00Z; "
                                  f"use dueDate for a task without one (got {text!r})")
    zone = timezone(stamp.offset or timedelta(0))
    try:
        return datetime.combine(stamp.day, stamp.clock.replace(microsecond=0), zone).astimezone(UTC)
    except OverflowError:
        raise InvalidField(field, f"{field} is out of range: {text!r}") from None


@lru_cache(maxsize=4096)
def instant_to_local(instant: datetime, zone: ZoneInfo) -> tuple[str, str]:
    """An aware instant -> (`dueOn`, `dueTime`) as wall-clock time in `zone`. Never ambiguous."""
    wall = instant.astimezone(zone)
    return wall.date().isoformat(), wall.time().isoformat("seconds")


@lru_cache(maxsize=4096)
def reads_back(instant: datetime, zone: ZoneInfo) -> bool:
    """Whether the wall time of ``instant`` in ``zone`` reads back as the same instant: False in
    the second pass of a repeated hour, which v2's wall time cannot tell from the first (T2)."""
    due_on, due_time = instant_to_local(instant, zone)
    return local_to_instant(parse_due_on(due_on), parse_due_time(due_time), zone) == instant


def due_date_time_to_v2(text: str, zone: ZoneInfo) -> tuple[str, str]:
    """v1 `dueDateTime` -> v2 (`dueOn`, `dueTime`) in the user's zone."""
    instant = parse_instant(text)
    try:
        return instant_to_local(instant, zone)
    except OverflowError:  # only at the very ends of the datetime range: 0001-01-01T00:00Z in New York
        raise InvalidField("dueDateTime", f"dueDateTime is out of range in {zone.key}: {text.strip()!r}") from None


# --- v2 -> v1 ---

def parse_due_on(due_on: str) -> date:
    """v2 `dueOn` (`YYYY-MM-DD`) -> date; UpstreamDataError when it is not one."""
    if isinstance(due_on, str) and _V2_DATE.fullmatch(due_on):
        try:
            return date.fromisoformat(due_on)
        except ValueError:
            pass
    raise UpstreamDataError(f"v2 dueOn is not a date: {due_on!r}")


def parse_due_time(due_time: str) -> time:
    """v2 `dueTime` (`HH:MM:SS`, or `HH:MM`) -> time; UpstreamDataError when it is not one."""
    match = _V2_TIME.fullmatch(due_time) if isinstance(due_time, str) else None
    if match:
        try:
            return time(int(match[1]), int(match[2]), int(match[3] or 0))
        except ValueError:
            pass
    raise UpstreamDataError(f"v2 dueTime is not a time of day: {due_time!r}")


def local_to_instant(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """Wall-clock time in `zone` -> aware UTC instant, with the module's gap/overlap rule.

    fold=0: a wall time in a gap is read with the offset before the transition (so it lands
    later by the gap's length); a wall time in an overlap is its first occurrence.
    """
    wall = datetime.combine(day, clock.replace(fold=0, microsecond=0))
    # zone.utcoffset on a naive fold=0 time is the rule above, in fewer steps than an aware
    # datetime plus astimezone: this runs for every task with a time of day that is answered.
    return (wall - zone.utcoffset(wall)).replace(tzinfo=UTC)


def due_date_to_v1(due_on: str) -> str:
    """v2 `dueOn` without `dueTime` -> v1 `dueDate`: that date at `T00:00:00Z`."""
    return f"{parse_due_on(due_on).isoformat()}T00:00:00Z"


@lru_cache(maxsize=4096)
def due_date_time_to_v1(due_on: str, due_time: str, zone: ZoneInfo) -> str:
    """v2 `dueOn` + `dueTime` (wall time in `zone`) -> v1 `dueDateTime`, a UTC instant."""
    instant = local_to_instant(parse_due_on(due_on), parse_due_time(due_time), zone)
    return instant.replace(tzinfo=None).isoformat() + "Z"


def timestamp_to_v1(value: str) -> str:
    """v2 `createdAt`/`updatedAt`/`completedAt` -> v1 `createdOn`/`updatedOn`/`completedOn`."""
    if isinstance(value, str) and _CANONICAL_STAMP.fullmatch(value):
        # v2's usual form is already v1's: check it is a real instant and keep it. Three per
        # task, so this saves about 0.5 ms on a 100-task list.
        try:
            datetime.fromisoformat(value[:19])
            return value
        except ValueError:
            pass
    try:
        instant = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise UpstreamDataError(f"v2 timestamp is not ISO 8601: {value!r}") from None
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return format_utc(instant)


# --- zones ---

@lru_cache(maxsize=4096)
def is_transition_day(instant: datetime, zone: ZoneInfo) -> bool:
    """Whether the local day of ``instant`` in ``zone`` has a daylight-saving change."""
    day = instant.astimezone(zone).date()
    start = datetime.combine(day, _MIDNIGHT, zone)
    end = datetime.combine(day + timedelta(days=1), _MIDNIGHT, zone)
    return start.utcoffset() != end.utcoffset()


@lru_cache(maxsize=4096)
def zone_for(name: str | None) -> ZoneInfo:
    """The `ZoneInfo` for a v2 user's `timezone`; UTC when the user has none.

    An unknown name is an UpstreamDataError rather than a silent fallback: guessing a zone
    would move every due time. ZoneInfo caches instances, so calling this per request is cheap.
    """
    if not name:
        return _UTC_ZONE
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UpstreamDataError(f"unknown time zone {name!r}") from None


# --- calendar days (expectedCloseDate, closeDate, ...) ---

def calendar_day_to_v2(text: str, field: str) -> str:
    """A v1 day (`YYYY-MM-DD`, or v1's midnight-UTC `YYYY-MM-DDT00:00:00Z`) -> v2 `YYYY-MM-DD`,
    the date as written: never shifted by a zone, an offset ignored (as for dueDate, T1). A time
    other than midnight is a 400: it would be lost, and the client may have meant another day."""
    stamp = _parse_v1(field, text)
    if stamp.clock not in (None, _MIDNIGHT):
        raise InvalidField(field, f"{field} is a calendar day: send {stamp.day.isoformat()} or "
                                  f"{stamp.day.isoformat()}T00:00:00Z, got {text!r}")
    return stamp.day.isoformat()


def calendar_day_to_v1(value: str, key: str) -> str:
    """A v2 date -> v1's midnight-UTC form; UpstreamDataError when v2 sent no date."""
    if isinstance(value, str) and _V2_DATE.fullmatch(value):
        try:
            return f"{date.fromisoformat(value).isoformat()}T00:00:00Z"
        except ValueError:
            pass
    raise UpstreamDataError(f"v2 {key} is not a date: {value!r}")
