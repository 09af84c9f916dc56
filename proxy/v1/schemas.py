"""The v1 XSDs: found and compiled once at import, and lxml's validation errors turned into one
clear message that names the element(s) at fault.

The canonical schema files live in ``schemas/`` at the repository root (``common.xsd`` plus
one file per document kind). They are looked up, first match wins, in:

1. the directory named by the environment variable ``CAPSULE_PROXY_SCHEMA_DIR``;
2. ``proxy/v1/schemas/`` (where they would sit if shipped as package data);
3. ``<repository root>/schemas/`` (``Path(__file__).parents[2]``), which is what an editable
   install (``pip install -e .``, as ``make`` does) and a source checkout see.

The structure the error messages need (which children each element may have, which may
repeat, the simple type of every leaf and attribute) is read from the same files, so the
XSDs stay the single source of truth.

Validation runs with ``lxml.etree.XMLSchema`` (libxml2, C): a few µs per task document. A
compiled schema keeps the error log of its last run on the object, so :func:`validate` is
meant to be called from one thread at a time (the aiohttp event loop); see the module's notes
in ``codec.py``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from importlib import resources

from lxml import etree

from .documents import KINDS, ROOTS, BadDocument

__all__ = ["SCHEMA_DIR", "STRUCTURE", "Namer", "XML_NAMES", "JSON_NAMES", "validate", "schema_path"]

_XS = "{http://www.w3.org/2001/XMLSchema}"


def _find_schema_dir() -> Path:
    """schemas/ at the top of the repository, shipped in the package as `proxy.schemas`."""
    folder = Path(resources.files("proxy.schemas"))  # type: ignore[arg-type]
    if not (folder / "task.xsd").is_file():
        raise RuntimeError(f"the v1 XSDs are missing from {folder}; reinstall capsule-proxy")
    return folder


SCHEMA_DIR: Path = _find_schema_dir()


def schema_path(kind: str) -> Path:
    """The XSD file of one document kind (``task``, ``tasks``, ``users``, ...)."""
    return SCHEMA_DIR / f"{kind}.xsd"


# Schema files are trusted local files, but are read with the same precautions anyway.
_SCHEMA_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                 remove_comments=True, remove_blank_text=True)


def _compile(kind: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(schema_path(kind)), _SCHEMA_PARSER))


_SCHEMAS: dict[str, etree.XMLSchema] = {kind: _compile(kind) for kind in KINDS}


@dataclass
class Structure:
    """What the XSDs allow, by element name (v1 names are unambiguous across documents)."""

    #: element -> its allowed child elements, in schema order (complex elements only)
    children: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: (parent, child) pairs where the child may repeat (maxOccurs="unbounded")
    repeatable: set[tuple[str, str]] = field(default_factory=set)
    #: leaf element -> its simple type name (``Id``, ``DateTime``, ``Text``, ...)
    leaf_type: dict[str, str] = field(default_factory=dict)
    #: element -> {attribute -> simple type name}
    attributes: dict[str, dict[str, str]] = field(default_factory=dict)


def _read_structure() -> Structure:
    docs = [etree.parse(str(SCHEMA_DIR / "common.xsd"), _SCHEMA_PARSER)]
    docs += [etree.parse(str(schema_path(kind)), _SCHEMA_PARSER) for kind in KINDS]
    complex_types = {el.get("name"): el for doc in docs for el in doc.getroot()
                     if el.tag == _XS + "complexType"}
    structure = Structure()

    def visit(decl: etree._Element) -> None:
        name, type_name = decl.get("name"), decl.get("type")
        model = complex_types.get(type_name) if type_name else decl.find(_XS + "complexType")
        if model is None:                                  # a leaf with a simple type
            known = structure.leaf_type.setdefault(name, type_name)
            if known != type_name:
                raise RuntimeError(f"the XSDs give <{name}> two types: {known} and {type_name}")
            return
        if name in structure.children:
            return
        kids = []
        for child in model.iter(_XS + "element"):
            kids.append(child.get("name"))
            if child.get("maxOccurs") == "unbounded":
                structure.repeatable.add((name, child.get("name")))
            visit(child)
        structure.children[name] = tuple(kids)
        structure.attributes[name] = {a.get("name"): a.get("type") for a in model.iter(_XS + "attribute")}

    for doc in docs[1:]:
        for decl in doc.getroot().iterchildren(_XS + "element"):
            visit(decl)
    return structure


STRUCTURE: Structure = _read_structure()

#: What a value of each simple type must look like, for error messages.
TYPE_RULES: dict[str, str] = {
    "Id": "a positive integer",
    "Count": "a non-negative integer",
    "DateTime": "an ISO-8601 date-time with a time zone, such as 2012-02-24T15:00:00Z",
    "Date": "a date such as 2012-02-24",
    "DueDate": "an ISO-8601 date-time such as 2012-02-24T00:00:00Z, or a date such as 2012-02-24",
    "Boolean": "true or false",
    "Name": "non-empty text",
    "Text": "text",
}


@dataclass(frozen=True)
class Namer:
    """How messages name things: ``<task>`` for XML bodies, ``"task"`` for JSON bodies."""

    element_word: str
    quote: str  # "<>" or '""'

    def el(self, name: str) -> str:
        return f"{self.quote[0]}{name}{self.quote[1]}"

    def attr(self, element: str, attribute: str) -> str:
        if self.quote == "<>":
            return f"attribute {attribute} of <{element}>"
        return f'"@{attribute}" in "{element}"'


XML_NAMES = Namer("element", "<>")
JSON_NAMES = Namer("field", '""')

_MAX_MESSAGES = 5
_ENTRY = re.compile(r"Element '([^']*)'(?:, attribute '([^']*)')?: (.*)", re.S)
_VALUE_IN_MESSAGE = re.compile(r"'(.*)' is not a valid value|The value '(.*)' is not accepted", re.S)
_EXPECTED = re.compile(r"Expected is (?:one of )?\( ([^)]*) \)")


def _show(value: str | None) -> str:
    value = "" if value is None else value.strip(" \t\r\n")
    if len(value) > 60:
        value = value[:57] + "..."
    return repr(value)


def _at(root: etree._Element, path: str | None) -> etree._Element | None:
    if not path:
        return None
    try:
        found = root.xpath(path)
    except (etree.XPathError, ValueError):
        return None
    return found[0] if found and isinstance(found[0], etree._Element) else None


def content_problems(parent: etree._Element, names: Namer) -> list[str]:
    """Unknown and repeated children of ``parent`` (by the XSDs), one message per problem."""
    allowed = STRUCTURE.children.get(parent.tag, ())
    counts = Counter(child.tag for child in parent if isinstance(child.tag, str))
    problems = []
    unknown = [tag for tag in counts if tag not in allowed]
    if unknown:
        word = names.element_word + ("s" if len(unknown) > 1 else "")
        problems.append(f"unknown {word} {', '.join(names.el(t) for t in unknown)} in {names.el(parent.tag)}")
    for tag, count in counts.items():
        if tag in allowed and count > 1 and (parent.tag, tag) not in STRUCTURE.repeatable:
            times = "twice" if count == 2 else f"{count} times"
            problems.append(f"{names.el(tag)} appears {times} in {names.el(parent.tag)}")
    return problems


def _explain(root: etree._Element, log: etree._ListErrorLog, names: Namer) -> str:
    messages: list[str] = []
    parents_done: set[str] = set()
    for entry in log:
        text = entry.message or ""
        match = _ENTRY.match(text)
        if match is None:
            messages.append(f"the document does not match the v1 schema: {text}")
            continue
        element, attribute, detail = match.groups()
        path = entry.path or ""
        if "This element is not expected" in detail:
            parent_path = path.rsplit("/", 1)[0] or "/"
            if parent_path in parents_done:
                continue
            parents_done.add(parent_path)
            parent = _at(root, parent_path)
            found = content_problems(parent, names) if parent is not None else []
            messages.extend(found or [f"{names.el(element)} is not expected here"])
        elif "Missing child element" in detail:
            expected = _EXPECTED.search(detail)
            wanted = ", ".join(names.el(n.strip()) for n in expected.group(1).split(",")) if expected else "more"
            messages.append(f"{names.el(element)} must contain {wanted}")
        elif attribute is not None and "is not allowed" in detail:
            messages.append(f"{names.attr(element, attribute)} is not allowed")
        elif "Element content is not allowed" in detail:
            messages.append(f"{names.el(element)} must hold text only, not child {names.element_word}s")
        elif "Character content other than whitespace" in detail:
            messages.append(f"text is not allowed directly inside {names.el(element)}")
        elif "No matching global declaration" in detail:
            messages.append(f"unexpected document root {names.el(element)}")
        else:
            type_name = (STRUCTURE.attributes.get(element, {}).get(attribute) if attribute
                         else STRUCTURE.leaf_type.get(element))
            rule = TYPE_RULES.get(type_name or "")
            if rule is None:
                messages.append(f"{names.el(element)}: {detail.strip()}")
                continue
            node = _at(root, path)
            if node is not None:
                value = node.get(attribute) if attribute else node.text
            else:
                found_value = _VALUE_IN_MESSAGE.search(detail)
                value = (found_value.group(1) or found_value.group(2)) if found_value else ""
            subject = names.attr(element, attribute) if attribute else names.el(element)
            messages.append(f"{subject} must be {rule}, got {_show(value)}")
    unique = list(dict.fromkeys(messages)) or ["the document does not match the v1 schema"]
    extra = len(unique) - _MAX_MESSAGES
    text = "; ".join(unique[:_MAX_MESSAGES])
    if extra > 0:
        text += f"; and {extra} more problem{'s' if extra > 1 else ''}"
    return text


def validate(root: etree._Element, kind: str, names: Namer = XML_NAMES,
             before_explaining: Callable[[etree._Element], None] | None = None) -> None:
    """Check ``root`` against the schema of ``kind``; raise :class:`BadDocument` (400) with one
    message naming what is wrong. Returns None when the document is valid.

    ``before_explaining(root)`` runs only when the document is invalid, before the schema
    errors are read; it may raise a more fundamental error (e.g. "nested too deeply")."""
    expected = ROOTS[kind]
    if root.tag != expected:
        if before_explaining is not None:
            before_explaining(root)
        raise BadDocument(f"expected a {names.el(expected)} document, got {names.el(str(root.tag))}", reason="schema")
    schema = _SCHEMAS[kind]
    if schema(root):
        return
    log = schema.error_log
    if before_explaining is not None:
        before_explaining(root)
    raise BadDocument(_explain(root, log, names), reason="schema")
