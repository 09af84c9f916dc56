"""Finding records: `GET /{entity}/search?q=` and the structured `POST /{entity}/filters/results`.

Both compile to an SQL condition on the entity's table, aliased `x`, so paging stays in SQL.
Text comparisons fold case with the store's `fold()` function (non-ASCII letters too).
"""

from __future__ import annotations

import re
from typing import Any, Callable

from .errors import V2Error
from .task_model import parse_due_on

Clause = tuple[str, list[Any]]
Operators = dict[str, Callable[[Any], Clause]]

PARTY_NAME = ("CASE x.type WHEN 'person' THEN trim(coalesce(x.first_name, '') || ' ' || "
              "coalesce(x.last_name, '')) ELSE x.name END")
_PHONE_LIKE = re.compile(r"^[0-9 +().\-/]*$")


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("value must be a string")
    return value


def _date(value: Any) -> str:
    day = parse_due_on(_text(value))
    if day is None:
        raise ValueError(f"value must be a date as YYYY-MM-DD, got {value!r}")
    return day


def _name_or_id(value: Any) -> tuple[str, int]:
    """Tags and milestones are named by name or id (a number, or digits in a string)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return "", value
    text = _text(value)
    return text, int(text) if text.isdigit() and text.isascii() and len(text) < 19 else -1


def text_field(expr: str) -> Operators:
    return {
        "is": lambda v: (f"fold({expr}) = fold(?)", [_text(v)]),
        "is not": lambda v: (f"fold(coalesce({expr}, '')) <> fold(?)", [_text(v)]),
        "contains": lambda v: (f"instr(fold({expr}), fold(?)) > 0", [_text(v)]),
        "starts with": lambda v: (f"substr(fold({expr}), 1, length(fold(?))) = fold(?)", [_text(v)] * 2),
    }


def contact_field(kind: str, column: str) -> Operators:
    """A condition on any of the party's contacts of one kind."""
    exists = f"EXISTS (SELECT 1 FROM contacts c WHERE c.party_id = x.id AND c.kind = '{kind}' AND {{}})"
    ops = text_field(f"c.{column}")
    return {"is": lambda v: (exists.format(ops["is"](v)[0]), [_text(v)]),
            "is not": lambda v: ("NOT " + exists.format(ops["is"](v)[0]), [_text(v)]),
            "contains": lambda v: (exists.format(ops["contains"](v)[0]), [_text(v)])}


def date_field(column: str) -> Operators:
    return {"is": lambda v: (f"date({column}) = ?", [_date(v)]),
            "is after": lambda v: (f"date({column}) > ?", [_date(v)]),
            "is before": lambda v: (f"date({column}) < ?", [_date(v)])}


def choice_field(column: str, choices: tuple[str, ...]) -> Operators:
    def value(v: Any) -> str:
        found = [choice for choice in choices if choice.casefold() == _text(v).casefold()]
        if not found:
            raise ValueError(f"value must be one of {', '.join(choices)}, got {v!r}")
        return found[0]
    return {"is": lambda v: (f"{column} = ?", [value(v)]),
            "is not": lambda v: (f"{column} <> ?", [value(v)])}


def tag_field(entity: str) -> Operators:
    exists = ("EXISTS (SELECT 1 FROM tag_links l JOIN tags t ON t.id = l.tag_id WHERE l.entity = '"
              + entity + "' AND l.record_id = x.id AND (fold(t.name) = fold(?) OR t.id = ?))")
    return {"is": lambda v: (exists, list(_name_or_id(v))),
            "is not": lambda v: ("NOT " + exists, list(_name_or_id(v)))}


def named_link(column: str, table: str) -> Operators:
    """A link to a milestone or pipeline, given by name or id."""
    match = f"{column} IN (SELECT id FROM {table} WHERE fold(name) = fold(?) OR id = ?)"
    return {"is": lambda v: (match, list(_name_or_id(v))),
            "is not": lambda v: ("NOT " + match, list(_name_or_id(v)))}


def compile_conditions(fields: dict[str, Operators], entity: str, conditions: list[Any]) -> Clause:
    """AND of the conditions; an unknown field or operator, or a bad value, is a 400 naming it."""
    clauses, params = [], []
    for index, condition in enumerate(conditions):
        if not isinstance(condition, dict):
            raise V2Error(400, f"filter conditions[{index}] must be an object with field, operator and value")
        name, operator = condition.get("field"), condition.get("operator")
        if name not in fields:
            raise V2Error(400, f"filter conditions[{index}].field: {name!r} is not a filter field of {entity}; "
                               f"supported: {', '.join(fields)}")
        if operator not in fields[name]:
            raise V2Error(400, f"filter conditions[{index}].operator: {operator!r} is not supported for "
                               f"{name}; supported: {', '.join(fields[name])}")
        try:
            clause, values = fields[name][operator](condition.get("value"))
        except ValueError as exc:
            raise V2Error(400, f"filter conditions[{index}].value: {name} {operator}: {exc}") from None
        clauses.append(f"({clause})")
        params.extend(values)
    return " AND ".join(clauses) or "1", params


def name_search(expr: str) -> Callable[[str], Clause]:
    return lambda q: (f"instr(fold({expr}), fold(?)) > 0", [q])


def party_search(q: str) -> Clause:
    """Name, email addresses and phone numbers; a phone-like term also matches on digits alone."""
    clause = (f"instr(fold({PARTY_NAME}), fold(?)) > 0 OR EXISTS (SELECT 1 FROM contacts c "
              "WHERE c.party_id = x.id AND ((c.kind = 'emailAddresses' AND instr(fold(c.address), fold(?)) > 0)"
              " OR (c.kind = 'phoneNumbers' AND (instr(fold(c.number), fold(?)) > 0{digits}))))")
    params: list[Any] = [q, q, q]
    digits = "".join(ch for ch in q if "0" <= ch <= "9")
    if _PHONE_LIKE.match(q) and len(digits) >= 3:
        params.append(digits)
        return clause.format(digits=" OR instr(digits(c.number), ?) > 0"), params
    return clause.format(digits=""), params
