"""The seed's account beyond users and tasks: parties with their contacts, pipelines and
milestones, tag and custom field definitions, opportunities, kases, entries, track definitions.

Each check turns a TOML entry into the normalised form seed_store.py writes: links become
ids, dates ISO text, custom field values their stored text, and tag names the ids of tag
definitions (a name no [[tags]] entry defines gets a definition of its own, as Capsule does).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from .contact_model import KINDS, contact_changes
from .deal_model import DURATION_BASES, KASE_STATUSES
from .field_values import TYPES, decimal_text, normalize
from .refdata import SITE_CURRENCY, currency_code
from .schema import ENTITIES
from .seed_checks import (Schema, SeedError, as_date, as_instant, assign_ids, check_keys, choice, link, percentage,
                          strings, tables, unique, user_id)

if TYPE_CHECKING:
    from .seed import Seed

_LINK = (int, str)  # a user by username or id, a milestone by name or id
_DATE = (str, date)
_RECORD_EXTRAS: Schema = {"tags": (list, False), "fields": (list, False)}

SCHEMAS: dict[str, Schema] = {
    "trackdefinitions": {"id": (int, False), "description": (str, True), "captureRule": (str, True),
                         "direction": (str, False)},
    "pipelines": {"id": (int, False), "name": (str, True), "description": (str, False), "archived": (bool, False)},
    "milestones": {"id": (int, False), "name": (str, True), "pipeline": (int, True), "probability": (int, False),
                   "complete": (bool, False), "description": (str, False)},
    "tags": {"id": (int, False), "entity": (str, True), "name": (str, True), "description": (str, False),
             "dataTag": (bool, False)},
    "fields": {"id": (int, False), "entity": (str, True), "name": (str, True), "type": (str, True),
               "options": (list, False), "tag": (str, False), "description": (str, False),
               "important": (bool, False)},
    "parties": {"id": (int, False), "type": (str, True), "title": (str, False), "firstName": (str, False),
                "lastName": (str, False), "jobTitle": (str, False), "about": (str, False), "name": (str, False),
                "organisation": (int, False), "owner": (_LINK, False), **{kind: (list, False) for kind in KINDS},
                **_RECORD_EXTRAS},
    "opportunities": {"id": (int, False), "name": (str, True), "party": (int, True), "milestone": (_LINK, False),
                      "value": (dict, False), "expectedCloseOn": (_DATE, False), "owner": (_LINK, False),
                      "additionalParties": (list, False), "description": (str, False),
                      "probability": (int, False), "durationBasis": (str, False), "duration": (int, False),
                      "closedOn": (_DATE, False), **_RECORD_EXTRAS},
    "kases": {"id": (int, False), "name": (str, True), "party": (int, True), "status": (str, False),
              "owner": (_LINK, False), "description": (str, False), "opportunity": (int, False),
              "expectedCloseOn": (_DATE, False), "closedOn": (_DATE, False), "additionalParties": (list, False),
              **_RECORD_EXTRAS},
    "entries": {"id": (int, False), "type": (str, False), "content": (str, True), "subject": (str, False),
                "party": (int, False), "opportunity": (int, False), "kase": (int, False),
                "creator": (_LINK, False), "entryAt": ((str, datetime), False), "participants": (list, False)},
}
_CONTACTS: dict[str, Schema] = {kind: {"type": (str, False), **{name: (str, False) for name in spec.fields}}
                                for kind, spec in KINDS.items()}
_FIELD_VALUE: Schema = {"definition": ((str, int), True), "value": ((str, int, float, bool, date), True)}
_PARTICIPANT: Schema = {"address": (str, True), "name": (str, False), "role": (str, True)}
_VALUE: Schema = {"amount": ((int, float), True), "currency": (str, False)}

# A new Capsule account's pipeline; a seed that defines none gets it (v1's default milestones).
DEFAULT_PIPELINE = {"id": 1, "name": "Sales", "description": None, "archived": False}
DEFAULT_MILESTONES = [
    {"id": 1, "name": "New", "pipeline": 1, "probability": 10, "complete": False,
     "description": "You have a potential buyer for your offering"},
    {"id": 2, "name": "Bid", "pipeline": 1, "probability": 50, "complete": False,
     "description": "You have put forward a bid for your offering"},
    {"id": 3, "name": "Won", "pipeline": 1, "probability": 100, "complete": True, "description": None},
    {"id": 4, "name": "Lost", "pipeline": 1, "probability": 0, "complete": True, "description": None},
]


def check(seed: Seed) -> None:
    _track_definitions(seed)
    _pipelines(seed)
    _tags(seed)
    _fields(seed)
    _parties(seed)
    _deals(seed, "opportunities")
    _deals(seed, "kases")
    _entries(seed)


def _track_definitions(seed: Seed) -> None:
    for index, definition in enumerate(seed.trackdefinitions, 1):
        where = f"trackdefinitions[{index}]"
        choice(f"{where}.captureRule", definition["captureRule"], ("opportunity", "kase"))
        definition["direction"] = choice(f"{where}.direction", definition.get("direction", "start"),
                                         ("start", "end"))


def _pipelines(seed: Seed) -> None:
    if not seed.pipelines and not seed.milestones:
        seed.pipelines = [dict(DEFAULT_PIPELINE)]
        seed.milestones = [dict(m, displayOrder=i) for i, m in enumerate(DEFAULT_MILESTONES, 1)]
        return
    assign_ids("milestones", seed.milestones)
    pipelines = {p["id"] for p in seed.pipelines}
    orders: dict[int, int] = {}
    for pipeline in seed.pipelines:
        pipeline.setdefault("description", None)
        pipeline.setdefault("archived", False)
    for index, milestone in enumerate(seed.milestones, 1):
        where = f"milestones[{index}]"
        link(f"{where}.pipeline", milestone["pipeline"], pipelines, "pipeline")
        milestone["probability"] = percentage(f"{where}.probability", milestone.get("probability", 0))
        milestone.setdefault("complete", False)
        milestone.setdefault("description", None)
        orders[milestone["pipeline"]] = milestone["displayOrder"] = orders.get(milestone["pipeline"], 0) + 1


def _tags(seed: Seed) -> None:
    for index, tag in enumerate(seed.tags, 1):
        choice(f"tags[{index}].entity", tag["entity"], ENTITIES)
        tag["name"] = tag["name"].strip()
        if not tag["name"]:
            raise SeedError(f"tags[{index}].name: must not be empty")
        tag.setdefault("dataTag", False)
        tag.setdefault("description", None)
    unique("tags", seed.tags, "name", fold=True)


def _tag_id(seed: Seed, entity: str, name: str) -> int:
    """The definition of this name (any letter case) for the entity, defined when there is none."""
    for tag in seed.tags:
        if tag["entity"] == entity and tag["name"].casefold() == name.casefold():
            return int(tag["id"])
    tag = {"id": max((t["id"] for t in seed.tags), default=0) + 1, "entity": entity, "name": name,
           "dataTag": False, "description": None}
    seed.tags.append(tag)
    return int(tag["id"])


def _fields(seed: Seed) -> None:
    orders: dict[str, int] = {}
    defined = {tag["id"] for tag in seed.tags}
    for index, definition in enumerate(seed.fields, 1):
        where = f"fields[{index}]"
        entity = choice(f"{where}.entity", definition["entity"], ENTITIES)
        choice(f"{where}.type", definition["type"], TYPES)
        if definition["type"] == "list":
            options = strings(f"{where}.options", definition.get("options"))
            if not options or len(set(options)) != len(options):
                raise SeedError(f"{where}.options: a list field needs distinct options")
            definition["options"] = options
        elif "options" in definition:
            raise SeedError(f"{where}.options: only a list field has options")
        else:
            definition["options"] = None
        if "tag" in definition:
            definition["tag"] = _datatag(seed, where, entity, definition["tag"], defined)
        definition.setdefault("tag", None)
        definition.setdefault("description", None)
        definition.setdefault("important", False)
        orders[entity] = definition["displayOrder"] = orders.get(entity, 0) + 1
    # Names are unique per entity, so records can name their fields unambiguously.
    unique("fields", seed.fields, "name", fold=True)


def _datatag(seed: Seed, where: str, entity: str, name: str, defined: set[int]) -> int:
    """A field's datatag: a [[tags]] entry with dataTag = true, or a new datatag of that name."""
    tag_id = _tag_id(seed, entity, name)
    tag = next(t for t in seed.tags if t["id"] == tag_id)
    if tag_id in defined and not tag["dataTag"]:
        raise SeedError(f"{where}.tag: tag {name!r} is not a datatag (give its [[tags]] entry dataTag = true)")
    tag["dataTag"] = True
    return tag_id


def _record_extras(seed: Seed, where: str, entity: str, record: dict[str, Any]) -> None:
    record["tags"] = [_tag_id(seed, entity, name) for name in strings(f"{where}.tags", record.get("tags", []))]
    values: dict[int, str] = {}
    for index, item in enumerate(tables(f"{where}.fields", record.get("fields", []), _FIELD_VALUE), 1):
        at = f"{where}.fields[{index}]"
        ref = item["definition"]
        found = [d for d in seed.fields if d["entity"] == entity and
                 (d["id"] == ref if isinstance(ref, int) else d["name"].casefold() == ref.casefold())]
        if not found:
            raise SeedError(f"{at}.definition: no custom field {ref!r} for {entity}")
        definition = found[0]
        if definition["id"] in values:
            raise SeedError(f"{at}.definition: {definition['name']!r} is given twice")
        try:
            values[definition["id"]] = normalize(definition["type"], definition["options"], item["value"])
        except ValueError as exc:
            raise SeedError(f"{at}.value: {definition['name']}: a {definition['type']} value {exc}, "
                            f"got {item['value']!r}") from None
    record["fields"] = list(values.items())


def _parties(seed: Seed) -> None:
    organisations = {p["id"] for p in seed.parties if p["type"] == "organisation"}
    for index, party in enumerate(seed.parties, 1):
        where = f"parties[{index}]"
        if party["type"] == "person":
            if "name" in party:
                raise SeedError(f"{where}: a person has firstName/lastName, not name")
            if not (party.get("firstName") or party.get("lastName")):
                raise SeedError(f"{where}: a person needs firstName or lastName")
            if "organisation" in party:
                link(f"{where}.organisation", party["organisation"], organisations, "organisation")
        elif party["type"] == "organisation":
            if "firstName" in party or "lastName" in party or "organisation" in party:
                raise SeedError(f"{where}: an organisation has name, not firstName/lastName/organisation")
            if not party.get("name", "").strip():
                raise SeedError(f"{where}: an organisation needs name")
        else:
            raise SeedError(f"{where}.type: must be 'person' or 'organisation', got {party['type']!r}")
        if "owner" in party:
            party["owner"] = user_id(f"{where}.owner", party["owner"], seed.users)
        for kind in KINDS:
            party[kind] = [_contact(f"{where}.{kind}[{i}]", kind, item)
                           for i, item in enumerate(tables(f"{where}.{kind}", party.get(kind, []), _CONTACTS[kind]), 1)]
        _record_extras(seed, where, "parties", party)
    # As in real v2, no two organisations share a name.
    unique("parties", [p for p in seed.parties if p["type"] == "organisation"], "name")


def _contact(where: str, kind: str, item: dict[str, Any]) -> dict[str, Any]:
    changes, problems = contact_changes(kind, item, creating=True)
    if problems:
        name, message = problems[0]
        raise SeedError(f"{where}.{name}: {message}")
    return changes


def _deals(seed: Seed, entity: str) -> None:
    party_ids = {p["id"] for p in seed.parties}
    opportunity_ids = {o["id"] for o in seed.opportunities}
    for index, record in enumerate(getattr(seed, entity), 1):
        where = f"{entity}[{index}]"
        link(f"{where}.party", record["party"], party_ids, "party")
        for name in ("expectedCloseOn", "closedOn"):
            if name in record:
                record[name] = as_date(f"{where}.{name}", record[name])
        extra = []
        for i, party_id in enumerate(record.get("additionalParties", []), 1):
            at = f"{where}.additionalParties[{i}]"
            if isinstance(party_id, bool) or not isinstance(party_id, int):
                raise SeedError(f"{at}: expected a party id, got {party_id!r}")
            link(at, party_id, party_ids, "party")
            if party_id == record["party"] or party_id in extra:
                raise SeedError(f"{at}: party {party_id} is already related to this record")
            extra.append(party_id)
        record["additionalParties"] = extra
        if entity == "opportunities":
            _opportunity(seed, where, record)
        else:
            record["status"] = choice(f"{where}.status", record.get("status", "OPEN").upper(), KASE_STATUSES)
            record["owner"] = user_id(f"{where}.owner", record["owner"], seed.users) if "owner" in record else None
            if "opportunity" in record:
                link(f"{where}.opportunity", record["opportunity"], opportunity_ids, "opportunity")
        _record_extras(seed, where, entity, record)


def _opportunity(seed: Seed, where: str, record: dict[str, Any]) -> None:
    record["milestone"] = _milestone(seed, f"{where}.milestone", record.get("milestone"))
    record["owner"] = user_id(f"{where}.owner", record.get("owner", seed.users[0]["id"]), seed.users)
    if "value" in record:
        value = check_keys(f"{where}.value", record["value"], _VALUE)
        amount = decimal_text(value["amount"])
        if amount is None or amount.startswith("-"):
            raise SeedError(f"{where}.value.amount: must be a number of 0 or more, got {value['amount']!r}")
        currency = currency_code(value.get("currency", SITE_CURRENCY))
        if currency is None:
            raise SeedError(f"{where}.value.currency: not an ISO 4217 code, got {value.get('currency')!r}")
        record["value"] = {"amount": amount, "currency": currency}
    if "probability" in record:
        record["probability"] = percentage(f"{where}.probability", record["probability"])
    record["durationBasis"] = choice(f"{where}.durationBasis", record.get("durationBasis", "FIXED"), DURATION_BASES)
    if "duration" in record:
        if record["durationBasis"] == "FIXED":
            raise SeedError(f"{where}.duration: a FIXED opportunity has no duration")
        if record["duration"] < 0:
            raise SeedError(f"{where}.duration: must be 0 or more, got {record['duration']}")


def _milestone(seed: Seed, where: str, ref: Any) -> int:
    """By id, or by name in the oldest active pipeline (as the API resolves names); by default
    that pipeline's first milestone."""
    if isinstance(ref, int):
        return link(where, ref, {m["id"] for m in seed.milestones}, "milestone")
    active = [p["id"] for p in seed.pipelines if not p["archived"]]
    if not active:
        raise SeedError(f"{where}: every pipeline is archived, so a milestone must be given by id")
    candidates = sorted((m for m in seed.milestones if m["pipeline"] == min(active)),
                        key=lambda m: m["displayOrder"])
    if ref is not None:
        candidates = [m for m in candidates if m["name"].casefold() == ref.casefold()]
    if not candidates:
        raise SeedError(f"{where}: no milestone {'named ' + repr(ref) + ' ' if ref else ''}"
                        f"in pipeline {min(active)}")
    if ref is not None and len(candidates) > 1:
        raise SeedError(f"{where}: {len(candidates)} milestones are named {ref!r}; give the id")
    return int(candidates[0]["id"])


def _entries(seed: Seed) -> None:
    parents = {"party": {p["id"] for p in seed.parties}, "opportunity": {o["id"] for o in seed.opportunities},
               "kase": {k["id"] for k in seed.kases}}
    for index, entry in enumerate(seed.entries, 1):
        where = f"entries[{index}]"
        kind = entry["type"] = choice(f"{where}.type", entry.get("type", "note"), ("note", "email"))
        if not entry["content"].strip():
            raise SeedError(f"{where}.content: must not be empty")
        given = [name for name in parents if name in entry]
        if len(given) != 1:
            raise SeedError(f"{where}: an entry belongs to exactly one of party, opportunity and kase")
        entry["parent"] = (given[0], link(f"{where}.{given[0]}", entry.pop(given[0]), parents[given[0]], given[0]))
        entry["creator"] = user_id(f"{where}.creator", entry.get("creator", seed.users[0]["id"]), seed.users)
        entry["entryAt"] = as_instant(f"{where}.entryAt", entry["entryAt"]) if "entryAt" in entry else None
        if kind == "note" and ("subject" in entry or "participants" in entry):
            raise SeedError(f"{where}: only an email has a subject and participants")
        entry.setdefault("subject", None)
        participants = []
        for i, item in enumerate(tables(f"{where}.participants", entry.get("participants", []), _PARTICIPANT), 1):
            role = choice(f"{where}.participants[{i}].role", item["role"], ("FROM", "TO", "CC"))
            participants.append({"address": item["address"], "name": item.get("name"), "role": role})
        entry["participants"] = participants
