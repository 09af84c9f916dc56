"""The lists a record's write may carry besides its own fields: tags, custom fields, tracks.

Parsed here for shape only (no database); the stores check the ids and names against the
account. Each op keeps its index, so a 422 can name the exact item (`tags[1].id`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .body import is_id
from .errors import field_error


@dataclass(frozen=True)
class TagOp:
    index: int
    action: str  # "name" (attach, creating the definition if needed), "id" (attach) or "delete"
    name: str | None = None
    tag_id: int | None = None


@dataclass(frozen=True)
class FieldOp:
    index: int
    action: str  # "set" (by definition), "set_value" (by value id) or "delete" (by value id)
    definition_id: int | None = None
    definition_name: str | None = None
    value_id: int | None = None
    value: Any = None


def _items(fields: dict[str, Any], name: str, resource: str, errors: list[dict[str, str]]
           ) -> list[tuple[int, dict[str, Any]]]:
    value = fields[name]
    if not isinstance(value, list):
        errors.append(field_error(resource, name, f"{name} must be an array"))
        return []
    items = []
    for index, item in enumerate(value):
        if isinstance(item, dict):
            items.append((index, item))
        else:
            errors.append(field_error(resource, f"{name}[{index}]", f"{name}[{index}] must be an object"))
    return items


def is_delete(item: dict[str, Any]) -> bool:
    return item.get("_delete") is True


def parse_tags(fields: dict[str, Any], resource: str, errors: list[dict[str, str]]) -> list[TagOp]:
    ops = []
    for index, item in _items(fields, "tags", resource, errors):
        where = f"tags[{index}]"
        if "id" in item and not is_id(item["id"]):
            errors.append(field_error(resource, f"{where}.id", "id must be a tag id"))
        elif is_delete(item):
            if "id" not in item:
                errors.append(field_error(resource, f"{where}.id", "a tag to delete needs its id"))
            else:
                ops.append(TagOp(index, "delete", tag_id=item["id"]))
        elif "id" in item:
            ops.append(TagOp(index, "id", tag_id=item["id"]))
        elif isinstance(item.get("name"), str) and item["name"].strip():
            ops.append(TagOp(index, "name", name=item["name"].strip()))
        else:
            errors.append(field_error(resource, f"{where}.name", "a tag needs a name or an id"))
    return ops


def parse_fields(fields: dict[str, Any], resource: str, errors: list[dict[str, str]]) -> list[FieldOp]:
    ops = []
    for index, item in _items(fields, "fields", resource, errors):
        where = f"fields[{index}]"
        if "id" in item and not is_id(item["id"]):
            errors.append(field_error(resource, f"{where}.id", "id must be a custom field value id"))
        elif is_delete(item):
            if "id" not in item:
                errors.append(field_error(resource, f"{where}.id", "a value to delete needs its id"))
            else:
                ops.append(FieldOp(index, "delete", value_id=item["id"]))
        elif "value" not in item:
            errors.append(field_error(resource, f"{where}.value", "value is required"))
        elif "definition" in item:
            definition = item["definition"]
            if isinstance(definition, dict) and is_id(definition.get("id")):
                ops.append(FieldOp(index, "set", definition_id=definition["id"], value=item["value"]))
            elif isinstance(definition, dict) and isinstance(definition.get("name"), str):
                ops.append(FieldOp(index, "set", definition_name=definition["name"], value=item["value"]))
            else:
                errors.append(field_error(resource, f"{where}.definition",
                                          'definition must be {"id": N} or {"name": "..."}'))
        elif "id" in item:
            ops.append(FieldOp(index, "set_value", value_id=item["id"], value=item["value"]))
        else:
            errors.append(field_error(resource, f"{where}.definition", "definition is required"))
    return ops


def parse_tracks(fields: dict[str, Any], resource: str, errors: list[dict[str, str]]
                 ) -> list[tuple[int, int]]:
    """(index, definition id) for `tracks: [{"definition": {"id": N}}]` or the `{"definition": N}` shorthand."""
    refs = []
    for index, item in _items(fields, "tracks", resource, errors):
        definition = item.get("definition")
        if isinstance(definition, dict):
            definition = definition.get("id")
        if is_id(definition):
            refs.append((index, definition))
        else:
            errors.append(field_error(resource, f"tracks[{index}].definition",
                                      'definition must be {"id": N}, the id of a track definition'))
    return refs
