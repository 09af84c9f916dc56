"""v1 query parameters that several families read the same way: `lastmodified` (and `since`),
v1 filters as v2 filter conditions, and `?trackId=` on a create."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from ..translate import v2_data
from ..translate.dates import format_utc
from ..translate.errors import InvalidField
from ..translate.ids import parse_id
from .base import ListPlan

#: v1's own form first; then what clients send instead (ISO dates and date-times; Ruby's
#: `Time#to_s`, which the capsule_crm gem sends as `since` for deleted opportunities).
_FORMS = ("%Y%m%dT%H%M%S", "%Y%m%d", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S%z",
          "%Y-%m-%d %H:%M:%S %z")


def lastmodified(raw: str, field: str = "lastmodified") -> str:
    """v1 `lastmodified` (`YYYYMMDDTHHMMSS`, UTC) -> v2 `since`; a date that does not exist
    (v1's own example, 20090631T000000) is a 400 rather than a silent guess (PA1)."""
    # An unencoded '+' of an offset reads as a space in a query string: put it back.
    text = re.sub(r"(:\d{2}) +(\d{4})$", r"\1 +\2", raw.strip())
    for form in _FORMS:
        try:
            moment = datetime.strptime(text, form)
        except ValueError:
            continue
        return format_utc(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    raise InvalidField(field, f"{field} must be a real UTC date and time as YYYYMMDDTHHMMSS, "
                              f"such as 20090630T000000; got {raw!r}")


def filtered(path: str, key: str, query: Mapping[str, str], filters: tuple[str, ...]) -> ListPlan:
    """v1 list filters that are v2 filter conditions (`tag is`, `milestone is`, ...), all of them
    together, and `lastmodified` -> v2 `since` (kept locally when there are conditions too). A
    blank value is no filter; values are trimmed."""
    given = {name: (query.get(name) or "").strip() for name in (*filters, "lastmodified")}
    conditions = [{"field": name, "operator": "is", "value": given[name]} for name in filters if given[name]]
    since = lastmodified(given["lastmodified"]) if given["lastmodified"] else None
    if not conditions:
        return ListPlan(path, key, params={"since": since} if since else {})
    plan = ListPlan(f"{path}/filters/results", key, filter={"filter": {"conditions": conditions}})
    if since is None:
        return plan
    # The filter's updatedOn is a day, not an instant: keep the exact boundary here.
    return replace(plan, keep=lambda record: (v2_data.text(record, "updatedAt") or "") >= since)


def tracks_from_query(query: Mapping[str, str]) -> dict[str, Any]:
    """`?trackId=N` on a create -> v2's `tracks` (v2 applies tracks on create only)."""
    raw = (query.get("trackid") or "").strip()
    if not raw:
        return {}
    ident = parse_id(raw)
    if ident is None:
        raise InvalidField("trackId", f"trackId must be a track's id (see GET /api/tracks), got {raw!r}")
    return {"tracks": [{"definition": {"id": ident}}]}


#: v2's 422 on a track that does not exist, or is for the other kind of record.
TRACK_REJECTED = {"tracks[0].definition": "trackId names no track for this kind of record (see GET /api/tracks)"}
