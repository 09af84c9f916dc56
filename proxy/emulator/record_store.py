"""Parties, opportunities and kases seen alike: the queries every family shares.

A Family says how to render a family's records, which `embed` values it knows, how
`/search?q=` matches and which filter fields `/filters/results` supports.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any, Callable

from . import deal_store, party_store
from .errors import not_found
from .filters import (PARTY_NAME, Clause, Operators, choice_field, contact_field, date_field, name_search,
                      named_link, party_search, tag_field, text_field)

Render = Callable[[sqlite3.Connection, list[int], frozenset[str]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Family:
    table: str
    resource: str
    embeds: frozenset[str]
    render: Render
    search: Callable[[str], Clause]
    filters: dict[str, Operators]


def _dates(entity: str) -> dict[str, Operators]:
    # Filter-side names differ from the JSON ones: addedOn is createdAt, updatedOn is updatedAt.
    return {"updatedOn": date_field("x.updated_at"), "addedOn": date_field("x.created_at"), "tag": tag_field(entity)}


FAMILIES = {
    "parties": Family(
        "parties", "party", party_store.EMBEDS, party_store.render_many, party_search,
        {"name": text_field(PARTY_NAME), "email": contact_field("emailAddresses", "address"),
         "phone": contact_field("phoneNumbers", "number"), "city": contact_field("addresses", "city"),
         "country": contact_field("addresses", "country"), "zip": contact_field("addresses", "zip"),
         "jobTitle": text_field("x.job_title"), "type": choice_field("x.type", ("person", "organisation")),
         **_dates("parties")}),
    "opportunities": Family(
        "opportunities", "opportunity", deal_store.EMBEDS["opportunities"],
        lambda conn, ids, embeds: deal_store.render_many(conn, "opportunities", ids, embeds),
        name_search("x.name"),
        {"name": text_field("x.name"), "milestone": named_link("x.milestone_id", "milestones"),
         "pipeline": named_link("(SELECT pipeline_id FROM milestones WHERE id = x.milestone_id)", "pipelines"),
         "expectedCloseOn": date_field("x.expected_close_on"), "closedOn": date_field("x.closed_on"),
         **_dates("opportunities")}),
    "kases": Family(
        "kases", "kase", deal_store.EMBEDS["kases"],
        lambda conn, ids, embeds: deal_store.render_many(conn, "kases", ids, embeds),
        name_search("x.name"),
        {"name": text_field("x.name"), "status": choice_field("x.status", ("OPEN", "CLOSED")),
         "expectedCloseOn": date_field("x.expected_close_on"), "closedOn": date_field("x.closed_on"),
         **_dates("kases")}),
}


def page(conn: sqlite3.Connection, family: Family, where: str, params: list[Any], embeds: frozenset[str],
         limit: int, offset: int) -> list[dict[str, Any]]:
    """One page, in id order, of the family's records matching `where` (on its table as `x`)."""
    ids = [row["id"] for row in conn.execute(
        f"SELECT x.id FROM {family.table} x WHERE {where} ORDER BY x.id LIMIT ? OFFSET ?",
        (*params, limit, offset))]
    return family.render(conn, ids, embeds)


def show(conn: sqlite3.Connection, family: Family, ids: list[int], embeds: frozenset[str]) -> list[dict[str, Any]]:
    """These records in the order asked; 404 naming the first id that is missing."""
    records = family.render(conn, ids, embeds)
    found = {record["id"] for record in records}
    for record_id in ids:
        if record_id not in found:
            raise not_found(family.resource, record_id)
    return records


def children(conn: sqlite3.Connection, family: Family, column: str, parent_id: int, embeds: frozenset[str],
             limit: int, offset: int) -> list[dict[str, Any]]:
    """A party's people, opportunities or kases; 404 when the party does not exist."""
    party_store.party_type(conn, parent_id)
    return page(conn, family, f"x.{column} = ?", [parent_id], embeds, limit, offset)
