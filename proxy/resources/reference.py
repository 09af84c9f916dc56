"""Reference data v1 read as plain lists: countries, currencies and track definitions (RF1-RF3).

Countries and currencies are v2's fixed ISO lists, answered from the cache (`[cache]
reference_ttl`); the track definitions are the account's own, read fresh as users are (P3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..translate import v2_data
from ..translate.fields import Context, Field, Shape, ident, text
from .base import Resource, V2, route

#: v2's captureRule words -> v1's (v1 called a case's track CASEFILE).
CAPTURE_RULES = {"opportunity": "OPPORTUNITY", "kase": "CASEFILE", "case": "CASEFILE", "project": "CASEFILE"}


def country_name(country: Mapping[str, Any]) -> str | None:
    return v2_data.text(country, "name")


def currency_code(currency: Mapping[str, Any]) -> str | None:
    return v2_data.text(currency, "code")


_COUNTRY_ROUTE = {"lookup": "countries", "item": "country", "text": country_name, "fresh": False}
_CURRENCY_ROUTE = {"lookup": "currencies", "item": "currency", "text": currency_code, "fresh": False}

COUNTRIES = Resource(
    name="country", noun="country", shapes=(), list_root="countries", v2=V2("countries", "country"),
    routes=(route("GET", "/api/countries", "reference", **_COUNTRY_ROUTE),
            # The same list under the paths some clients read it from (RF3).
            route("GET", "/api/resource/country", "reference", **_COUNTRY_ROUTE),
            route("GET", "/api/config/country", "reference", **_COUNTRY_ROUTE)),
    doc="Country names, as addresses spell them.",
)

CURRENCIES = Resource(
    name="currency", noun="currency", shapes=(), list_root="currencies", v2=V2("currencies", "currency"),
    routes=(route("GET", "/api/currencies", "reference", **_CURRENCY_ROUTE),
            route("GET", "/api/resource/currency", "reference", **_CURRENCY_ROUTE)),
    doc="ISO 4217 currency codes an opportunity's value may be in.",
)


def _capture_rule(v2: Mapping[str, Any], ctx: Context) -> str | None:
    rule = v2_data.text(v2, "captureRule")
    return None if rule is None else CAPTURE_RULES.get(rule.casefold(), rule.upper())


TRACK_SHAPE = Shape("track", (
    Field("id", read=ident(), source="id"),
    Field("description", read=text("description"), source="description"),
    Field("captureRule", read=_capture_rule, source="captureRule",
          note="opportunity -> OPPORTUNITY, kase -> CASEFILE"),
    Field("direction", read=text("direction"), source="direction", note="as v2 writes it (start, end)"),
))

TRACKS = Resource(
    name="track", noun="track", shapes=(TRACK_SHAPE,), list_root="tracks", v2=V2("trackdefinitions", "trackDefinition"),
    routes=(route("GET", "/api/tracks", "reference", lookup="trackdefinitions", item="track",
                  doc="v2's /trackdefinitions"),),
    doc="Track definitions: the ids ?trackId= takes on a new opportunity or case.",
)
