"""The v2 lists the translation looks names up in, and where each comes from (decision P3).

The upstream client caches each per token (`proxy/upstream/lookups.py`); this table is the one
place that says which v2 path and key a look-up reads, and which `[cache]` TTL keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LookupSource:
    path: str
    key: str
    ttl: str                  # the [cache] setting that keeps it
    paged: bool = False       # every page is read (categories can exceed one page)
    single: bool = False      # one object, not a list (users/current)


LOOKUPS: dict[str, LookupSource] = {
    "users": LookupSource("/api/v2/users", "users", "users_ttl"),
    "caller": LookupSource("/api/v2/users/current", "user", "timezone_ttl", single=True),
    "categories": LookupSource("/api/v2/categories", "categories", "categories_ttl", paged=True),
    # Milestone names resolve within /milestones (the oldest active pipeline's, v1's one set).
    "milestones": LookupSource("/api/v2/milestones", "milestones", "reference_ttl", paged=True),
    "trackdefinitions": LookupSource("/api/v2/trackdefinitions", "trackDefinitions", "reference_ttl", paged=True),
    "countries": LookupSource("/api/v2/countries", "countries", "reference_ttl"),
    "currencies": LookupSource("/api/v2/currencies", "currencies", "reference_ttl"),
    # Custom field definitions, one list per kind of record (their ids may repeat across kinds).
    "party_fields": LookupSource("/api/v2/parties/fields/definitions", "definitions", "reference_ttl", paged=True),
    "opportunity_fields": LookupSource("/api/v2/opportunities/fields/definitions", "definitions",
                                       "reference_ttl", paged=True),
    "kase_fields": LookupSource("/api/v2/kases/fields/definitions", "definitions", "reference_ttl", paged=True),
}

#: Read look-ups that are another look-up under a condition: "zones" are the users' time zones,
#: not needed when [translate] timezone overrides them.
ALIASES = {"zones": "users"}
