"""The synthetic account (account.py) as the emulator's seed (decision M1).

Look-up lists become the seed tables their v2 path names; records are written as seed entries
already (samples.seed_entry). The seed is handed over as data (`seed_from_dict`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..emulator import seed as seeds
from ..resources.lookups import LOOKUPS

if TYPE_CHECKING:
    from .account import Account

USER_KEYS = ("id", "username", "name", "timezone", "token")

def lookup_table(lookup: str) -> tuple[str, dict[str, Any]] | None:
    """The seed table a look-up list is written to, and what every row of it holds besides the
    record, from the look-up's v2 path: `/api/v2/categories` -> [[categories]]; definitions kept
    under a collection, `/api/v2/parties/fields/definitions` -> [[fields]] with entity =
    "parties". None for a look-up that is one object (the caller)."""
    source = LOOKUPS.get(lookup)
    if source is None or source.single:
        return None
    parts = source.path.removeprefix("/api/v2/").split("/")
    if len(parts) == 1:
        return parts[0], {}
    if len(parts) == 3 and parts[2] == "definitions":
        return parts[1], {"entity": parts[0]}
    return None


def seed_data(account: Account, *, copies: bool) -> dict[str, list[dict[str, Any]]]:
    """The account as the emulator's seed tables (named after the v2 collections)."""
    data: dict[str, list[dict[str, Any]]] = {"users": [
        {key: user[key] for key in USER_KEYS} for user in account.lists["users"]]}
    for lookup, records in account.lists.items():
        table = lookup_table(lookup) if lookup != "users" else None
        if table is not None and records:
            data.setdefault(table[0], []).extend(
                {"id": record["id"], **{k: v for k, v in record.items() if k != "id"}, **table[1]}
                for record in records)
    tables: dict[str, dict[int, dict[str, Any]]] = {}
    for table, entries in account.records.items():
        tables.setdefault(table, {}).update(entries)
    if copies:
        for table, entries in account.copies.items():
            tables.setdefault(table, {}).update(entries)
    for table, entries in tables.items():
        data[table] = [entries[ident] for ident in sorted(entries)]
    return data


def make_seed(account: Account) -> tuple[seeds.Seed, list[str]]:
    """The emulator seed for the account, and notes on anything it could not hold. A look-up
    table the emulator refuses on its own is left out first, of the seed and of the account (the
    emulator answers with its own: milestones need a pipeline); then the samples are tried, then
    the demo copies in their place, then users and look-ups only."""
    lookups, notes = _lookups_it_takes(seed_data(account, copies=False),
                                       {found[0] for found in map(lookup_table, account.lists) if found})
    for name in list(account.lists):             # what the explanation says the account holds
        found = lookup_table(name)
        if found is not None and found[0] not in lookups:
            del account.lists[name]
    problem = ""
    for copies in (False, True):
        data = _without(seed_data(account, copies=copies), lookups)
        try:
            return _parse(data), notes
        except seeds.SeedError as exc:
            problem = str(exc)
    minimal = {table: entries for table, entries in seed_data(account, copies=False).items()
               if table == "users" or table in lookups}
    return _parse(minimal), notes + [f"the emulator's seed could not hold this request's records ({problem}); "
                                     "only the users and look-ups were seeded, so the records show as missing"]


def _lookups_it_takes(data: dict[str, list[dict[str, Any]]], tables: set[str]) -> tuple[set[str], list[str]]:
    """The look-up tables the emulator's seed takes, each with the users alone, and a note on
    each it refuses."""
    taken, notes = set(), []
    for table in sorted(tables - {"users"}):
        if table not in data:
            continue
        try:
            _parse({"users": data["users"], table: data[table]})
            taken.add(table)
        except seeds.SeedError as exc:
            notes.append(f"the emulator's seed cannot hold the {table} this request names ({exc}); it "
                         f"answers with its own {table}")
    return taken | {"users"}, notes


def _without(data: dict[str, list[dict[str, Any]]], lookups: set[str]) -> dict[str, list[dict[str, Any]]]:
    """``data`` without the look-up tables the emulator refuses."""
    refused = {found[0] for found in map(lookup_table, LOOKUPS) if found} - lookups
    return {table: entries for table, entries in data.items() if table not in refused}


def _parse(data: dict[str, list[dict[str, Any]]]) -> seeds.Seed:
    return seeds.seed_from_dict(data, "(explain)")
