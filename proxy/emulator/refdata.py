"""The built-in reference lists: ISO 3166 country names and ISO 4217 currency codes.

They ship as text files in the package (countries.txt, currencies.txt), one entry a line.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

SITE_CURRENCY = "GBP"  # the demo account's currency; a value without a currency gets it


def _lines(name: str) -> tuple[str, ...]:
    text = resources.files(__package__).joinpath(name).read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#"))


@cache
def countries() -> tuple[str, ...]:
    return _lines("countries.txt")


@cache
def _country_keys() -> dict[str, str]:
    return {name.casefold(): name for name in countries()}


def country_name(value: str) -> str | None:
    """The list's spelling of a country name given in any letter case, or None."""
    return _country_keys().get(value.strip().casefold())


@cache
def currencies() -> tuple[str, ...]:
    return _lines("currencies.txt")


def currency_code(value: str) -> str | None:
    code = value.strip().upper()
    return code if code in currencies() else None
