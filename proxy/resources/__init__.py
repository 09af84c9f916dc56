"""One declaration per v1 family: THE place to add or change one (README, "Adding a family").

`RESOURCES` lists them all. At import, every declaration is checked against the XSDs, the way
Cadwyn checks a VersionChange: each shape's elements are exactly its root's children in the
schema, every list root holds the shapes' roots, and no route is declared twice. A mistake
fails here, before the first request.
"""

from __future__ import annotations

from ..v1.schemas import STRUCTURE
from .base import Resource
from .custom_field import CUSTOM_FIELD_DEFINITIONS, CUSTOM_FIELDS
from .directory import CATEGORIES, USERS
from .history import HISTORY
from .kase import KASE
from .links import ADDITIONAL_PARTIES
from .opportunity import DELETED_OPPORTUNITIES, MILESTONES, OPPORTUNITY
from .party import PARTY
from .reference import COUNTRIES, CURRENCIES, TRACKS
from .tag import TAGS
from .task import TASK
from .untranslated import UNTRANSLATED

RESOURCES: tuple[Resource, ...] = (TASK, PARTY, USERS, CATEGORIES,
                                   OPPORTUNITY, MILESTONES, DELETED_OPPORTUNITIES, KASE, ADDITIONAL_PARTIES,
                                   COUNTRIES, CURRENCIES, TRACKS, HISTORY, TAGS, CUSTOM_FIELDS,
                                   CUSTOM_FIELD_DEFINITIONS)

__all__ = ["RESOURCES", "UNTRANSLATED", "check_operations"]


def check_operations(operations: set[str]) -> None:
    """Every route names an operation the HTTP layer has (called where both are known)."""
    for resource in RESOURCES:
        for route in resource.routes:
            if route.op not in operations:
                raise RuntimeError(f"{route.method} {route.path} names the unknown operation {route.op!r}")


def _check(resources: tuple[Resource, ...]) -> None:
    routes: dict[tuple[str, str], str] = {}
    for resource in resources:
        for shape in resource.shapes:
            decl = STRUCTURE.roots.get(shape.root) or STRUCTURE.find([resource.list_root, shape.root])
            if decl is None:
                raise RuntimeError(f"{resource.name}: no XSD declares <{shape.root}>")
            declared, ours = set(decl.children), set(shape.element_names)
            if declared != ours:
                raise RuntimeError(f"{resource.name}: <{shape.root}> differs from its XSD: only in the "
                                   f"table {sorted(ours - declared)}, only in the XSD {sorted(declared - ours)}")
        lists = STRUCTURE.roots.get(resource.list_root)
        if lists is None:
            raise RuntimeError(f"{resource.name}: no XSD declares the list <{resource.list_root}>")
        missing = [shape.root for shape in resource.shapes if shape.root not in lists.children]
        if missing:
            raise RuntimeError(f"{resource.name}: <{resource.list_root}> cannot hold {missing}")
        for route in resource.routes:
            key = (route.method, route.path)
            if key in routes:
                raise RuntimeError(f"{route.method} {route.path} is declared by {routes[key]} and {resource.name}")
            routes[key] = resource.name


_check(RESOURCES)
