"""Tags on a party, an opportunity or a case: v1 names them in paths, v2 attaches them by name
and detaches them by id through the record's PUT (decisions TG1-TG4).

v1 had no tag ids, so a tag is found on the record by name, with v2's own rule: letter case
does not matter (v2 matches a name to its definition case-insensitively when it attaches one,
and the `?tag=` list filters match the same way).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..translate import v2_data
from ..translate.errors import InvalidField
from ..translate.fields import Field, Shape, text
from .base import PARENT_PATTERN, Resource, V2, route

TAG_SHAPE = Shape("tag", (
    Field("name", read=text("name"), source="tags[].name (embed=tags)"),
))


def same_tag(a: str, b: str) -> bool:
    """v2's rule for tag names: surrounding space and letter case do not matter (TG1)."""
    return a.strip().casefold() == b.strip().casefold()


def tag_name(raw: str) -> str:
    """The tag name from the path (already percent-decoded); blank is a 400."""
    if not raw.strip():
        raise InvalidField("name", "the tag name in the path is empty")
    return raw.strip()


def find_tag(record: Mapping[str, Any], name: str) -> Mapping[str, Any] | None:
    """The tag of that name on a v2 record read with embed=tags, or None."""
    for tag in v2_data.records(record.get("tags") or [], "tags"):
        if same_tag(v2_data.text(tag, "name") or "", name):
            return tag
    return None


TAGS = Resource(
    name="tag", noun="tag", shapes=(TAG_SHAPE,), list_root="tags", v2=V2("tags", "tag"),
    routes=(
        # `example`: what the record the path names carries when `explain` shows the route.
        route("GET", f"/api/{PARENT_PATTERN}/{{id}}/tag", "tags",
              doc="the record with its tags (embed=tags)", example={"tags": ["Customer"]}),
        route("POST", f"/api/{PARENT_PATTERN}/{{id}}/tag/{{name}}", "add_tag",
              doc="attach the tag by name, defining it if needed (a PUT of the record); 200 when it was "
                  "already there"),
        route("DELETE", f"/api/{PARENT_PATTERN}/{{id}}/tag/{{name}}", "remove_tag",
              doc="detach the tag by its id (a PUT of the record); 200 with a Warning when it was not there",
              example={"tags": ["{name}"]}),
    ),
    doc="Tags on parties, opportunities and cases, by name.",
)
