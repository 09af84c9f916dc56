"""The v1 XSDs: compiled once at import, read into a declaration tree, and lxml's validation
errors turned into one clear message that names the element(s) at fault.

The schema files live in ``schemas/`` at the repository root and ship in the package as
``proxy.schemas``: ``common.xsd`` holds the shared types, and every other file declares one
document root (``task.xsd`` → ``<task>``). They are the single source of the v1 document rules:

* XML bodies are validated by lxml's C validator against the compiled schema of their root;
* JSON bodies are validated in Python by walking ``STRUCTURE`` (which children an element may
  have, which may repeat, the simple type of every leaf and attribute) with ``SIMPLE_TYPES``,
  checks built from the same XSD simple types (patterns, enumerations, lengths, unions), so
  both formats accept the same documents (decision D3).

A compiled schema keeps the error log of its last run on the object, so :func:`validate` is
called from one thread at a time (the event loop).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path

from lxml import etree

from .documents import BadDocument

__all__ = ["SCHEMA_DIR", "KINDS", "STRUCTURE", "SIMPLE_TYPES", "TYPE_RULES", "Decl", "Namer",
           "XML_NAMES", "JSON_NAMES", "validate", "schema_path", "content_problems"]

_XS = "{http://www.w3.org/2001/XMLSchema}"


def _find_schema_dir() -> Path:
    """schemas/ at the top of the repository, shipped in the package as `proxy.schemas`."""
    folder = Path(resources.files("proxy.schemas"))  # type: ignore[arg-type]
    if not (folder / "common.xsd").is_file():
        raise RuntimeError(f"the v1 XSDs are missing from {folder}; reinstall capsule-proxy")
    return folder


SCHEMA_DIR: Path = _find_schema_dir()
#: Every document root, one XSD file each (the file's stem is the root element's name).
KINDS: tuple[str, ...] = tuple(sorted(p.stem for p in SCHEMA_DIR.glob("*.xsd") if not p.stem.startswith("common")))


def schema_path(kind: str) -> Path:
    """The XSD file of one document kind (``task``, ``parties``, ...)."""
    return SCHEMA_DIR / f"{kind}.xsd"


# Schema files are trusted local files, but are read with the same precautions anyway.
_SCHEMA_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                 remove_comments=True, remove_blank_text=True)
_DOCS = {kind: etree.parse(str(schema_path(kind)), _SCHEMA_PARSER) for kind in KINDS}
# common*.xsd hold the types the documents share; they are included, never documents themselves.
_COMMON = [etree.parse(str(p), _SCHEMA_PARSER) for p in sorted(SCHEMA_DIR.glob("common*.xsd"))]
_SCHEMAS: dict[str, etree.XMLSchema] = {kind: etree.XMLSchema(doc) for kind, doc in _DOCS.items()}


# --- the declaration tree -----------------------------------------------------------------------

#: Types kept exactly as sent, surrounding whitespace included (D2).
FREE_TEXT_TYPES = frozenset({"Text", "Name", "xs:string"})


@dataclass(eq=False)
class Decl:
    """One element declaration: a leaf with a simple type, or a complex element with children.

    Complex types shared by several documents (``Task`` in ``<task>`` and ``<tasks>``) are one
    Decl object, so a name means the same thing wherever it appears."""

    name: str
    leaf_type: str | None = None                        # simple type name, for leaves
    children: dict[str, Decl] = field(default_factory=dict)  # in schema order
    repeatable: frozenset[str] = frozenset()            # children with maxOccurs="unbounded"
    required: frozenset[str] = frozenset()              # children without minOccurs="0"
    attributes: dict[str, str] = field(default_factory=dict)  # attribute -> simple type name
    is_leaf: bool = field(init=False, repr=False)
    keeps_space: bool = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Plain attributes, not properties: the codecs read them for every leaf of every body.
        self.is_leaf = self.leaf_type is not None
        # Free text is kept exactly as sent, surrounding whitespace included (D2); typed values
        # (ids, dates, numbers, booleans) have it stripped, as XSD collapses them.
        self.keeps_space = self.leaf_type in FREE_TEXT_TYPES


@dataclass
class Structure:
    """Every document root's declaration, by root name."""

    roots: dict[str, Decl]

    def find(self, path: list[str]) -> Decl | None:
        """The declaration at a path of element names from a root (``["person", "contacts"]``)."""
        decl = self.roots.get(path[0]) if path else None
        for name in path[1:]:
            if decl is None:
                return None
            decl = decl.children.get(name)
        return decl


def _read_structure() -> Structure:
    schema_docs = [*_COMMON, *_DOCS.values()]
    complex_types = {el.get("name"): el for doc in schema_docs for el in doc.getroot()
                     if el.tag == _XS + "complexType"}
    built: dict[str, Decl] = {}                           # by complex type name: shared Decls

    def declare(element: etree._Element) -> Decl:
        name, type_name = element.get("name"), element.get("type")
        if type_name in complex_types:
            if type_name not in built:
                built[type_name] = Decl(name)
                _fill(built[type_name], complex_types[type_name])
            decl = built[type_name]
            return decl if decl.name == name else _renamed(decl, name)
        inline = element.find(_XS + "complexType")
        if inline is None:
            return Decl(name, leaf_type=type_name or "xs:string")
        decl = Decl(name)
        _fill(decl, inline)
        return decl

    def _fill(decl: Decl, model: etree._Element) -> None:
        repeatable, required = set(), set()
        for child, repeats in _particles(model):
            decl.children[child.get("name")] = declare(child)
            if repeats:
                repeatable.add(child.get("name"))
            elif child.get("minOccurs", "1") != "0" and child.getparent().tag != _XS + "choice":
                required.add(child.get("name"))
        decl.repeatable, decl.required = frozenset(repeatable), frozenset(required)
        decl.attributes = {a.get("name"): a.get("type") for a in model.findall(_XS + "attribute")}

    roots = {}
    for kind, doc in _DOCS.items():
        for element in doc.getroot().iterchildren(_XS + "element"):
            roots[element.get("name")] = declare(element)
        if kind not in roots:
            raise RuntimeError(f"{schema_path(kind)} must declare the root element <{kind}>")
    return Structure(roots)


_GROUPS = (_XS + "all", _XS + "sequence", _XS + "choice")


def _particles(model: etree._Element, repeated: bool = False) -> list[tuple[etree._Element, bool]]:
    """The element declarations of a complex type's content model, through nested groups only,
    each with whether it may repeat (its own maxOccurs, or a repeating group around it)."""
    found = []
    for node in model:
        if node.tag == _XS + "element":
            found.append((node, repeated or node.get("maxOccurs") == "unbounded"))
        elif node.tag in _GROUPS:
            found.extend(_particles(node, repeated or node.get("maxOccurs") == "unbounded"))
    return found


def _renamed(decl: Decl, name: str) -> Decl:
    # The same complex type under another element name (e.g. `Party` as person and organisation).
    return Decl(name, children=decl.children, repeatable=decl.repeatable, required=decl.required,
                attributes=decl.attributes)


STRUCTURE: Structure = _read_structure()


# --- simple types, as Python checks (for JSON bodies) --------------------------------------------

_COLLAPSE = re.compile(r"[ \t\r\n]+")


def _collapsed(text: str) -> str:
    # Most values have no whitespace to collapse: isprintable() is False for tabs and newlines.
    if text.isprintable() and "  " not in text and text[:1] != " " and text[-1:] != " ":
        return text
    return _COLLAPSE.sub(" ", text).strip(" ")


def _any_text(text: str) -> bool:
    return True


def _real_date(text: str) -> bool:
    try:
        date.fromisoformat(text[:10])
    except ValueError:
        return False
    return True


def _real_date_time(text: str) -> bool:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


# What each XSD built-in base adds to a type's own facets: (whitespace collapsed?, value check).
_BUILTINS: dict[str, tuple[bool, Callable[[str], bool]]] = {
    "xs:string": (False, _any_text),
    "xs:token": (True, lambda text: True),
    "xs:positiveInteger": (True, lambda text: text.isascii() and text.lstrip("+").isdigit() and int(text) > 0),
    "xs:nonNegativeInteger": (True, lambda text: text.isascii() and text.lstrip("+").isdigit()),
    "xs:integer": (True, lambda text: re.fullmatch(r"[+-]?[0-9]+", text) is not None),
    "xs:decimal": (True, lambda text: re.fullmatch(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)", text) is not None),
    "xs:boolean": (True, lambda text: text in ("true", "false", "1", "0")),
    "xs:date": (True, _real_date),
    "xs:dateTime": (True, _real_date_time),
}


def _compile_simple_types() -> dict[str, Callable[[str], bool]]:
    definitions = {el.get("name"): el for doc in _COMMON for el in doc.getroot() if el.tag == _XS + "simpleType"}
    checks: dict[str, Callable[[str], bool]] = {}

    def build(name: str) -> Callable[[str], bool]:
        if name in checks:
            return checks[name]
        if name in _BUILTINS:
            collapse, check = _BUILTINS[name]
            checks[name] = (lambda text: check(_collapsed(text))) if collapse else check
            return checks[name]
        definition = definitions[name]
        union = definition.find(_XS + "union")
        if union is not None:
            members = tuple(build(member) for member in union.get("memberTypes").split())

            def either(text: str) -> bool:
                for member in members:
                    if member(text):
                        return True
                return False
            checks[name] = either
            return either
        restriction = definition.find(_XS + "restriction")
        base = restriction.get("base")
        base_check = build(base)
        collapse = _collapses(base, definitions)
        # XSD patterns are anchored and, for the ones we use, Python-compatible.
        patterns = [re.compile(p.get("value")) for p in restriction.findall(_XS + "pattern")]
        enumeration = {e.get("value") for e in restriction.findall(_XS + "enumeration")}
        lengths = {facet: int(restriction.find(_XS + facet).get("value"))
                   for facet in ("length", "minLength", "maxLength") if restriction.find(_XS + facet) is not None}
        if base_check is _any_text and not (patterns or enumeration or lengths):
            checks[name] = _any_text          # free text (Text): the JSON walk skips the call
            return _any_text

        def check(text: str) -> bool:
            value = _collapsed(text) if collapse else text
            if not base_check(text):
                return False
            for pattern in patterns:
                if pattern.fullmatch(value) is None:
                    return False
            if enumeration and value not in enumeration:
                return False
            if lengths:
                if "length" in lengths and len(value) != lengths["length"]:
                    return False
                if not lengths.get("minLength", 0) <= len(value) <= lengths.get("maxLength", len(value)):
                    return False
            return True
        checks[name] = check
        return check

    for name in definitions:
        build(name)
    return checks


def _collapses(base: str, definitions: dict[str, etree._Element]) -> bool:
    while base not in _BUILTINS:
        restriction = definitions[base].find(_XS + "restriction")
        if restriction is None:
            return True                                    # a union of collapsed types
        base = restriction.get("base")
    return _BUILTINS[base][0]


#: simple type name -> whether a text is valid for it (the XSD's rules, in Python).
SIMPLE_TYPES: dict[str, Callable[[str], bool]] = _compile_simple_types()
#: The types any text is valid for (no facet at all).
#: The free-text types any text is valid for (no facet at all): the JSON walk skips their check.
ANY_TEXT_TYPES: frozenset[str] = frozenset(name for name, check in SIMPLE_TYPES.items()
                                           if check is _any_text and name in FREE_TEXT_TYPES)

#: What a value of each simple type must look like, for error messages.
TYPE_RULES: dict[str, str] = {
    "Id": "a positive integer",
    "OptionalId": "a positive integer",
    "Count": "a non-negative integer",
    "Stamp": "an ISO-8601 date-time such as 2012-02-24T15:00:00Z",
    "DueDate": "a date such as 2012-02-24, or 2012-02-24T00:00:00Z",
    "DateOrStamp": "a date such as 2012-02-24, or 2012-02-24T00:00:00Z",
    "Boolean": "true or false",
    "Decimal": "a decimal number such as 1234.50",
    "Integer": "a whole number",
    "Name": "non-empty text",
    "Text": "text",
    "xs:string": "text",
}


# --- validation messages (XML bodies) ------------------------------------------------------------

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

MAX_MESSAGES = 5
_ENTRY = re.compile(r"Element '([^']*)'(?:, attribute '([^']*)')?: (.*)", re.S)
_VALUE_IN_MESSAGE = re.compile(r"'(.*)' is not a valid value|The value '(.*)' is not accepted", re.S)
_EXPECTED = re.compile(r"Expected is (?:one of )?\( ([^)]*) \)")


def show_value(value: str | None) -> str:
    value = "" if value is None else value.strip(" \t\r\n")
    if len(value) > 60:
        value = value[:57] + "..."
    return repr(value)


def type_message(subject: str, type_name: str | None, value: str | None) -> str | None:
    """``<partyId> must be a positive integer, got 'abc'``, or None for a type without a rule."""
    rule = TYPE_RULES.get(type_name or "")
    return None if rule is None else f"{subject} must be {rule}, got {show_value(value)}"


def _at(root: etree._Element, path: str | None) -> etree._Element | None:
    if not path:
        return None
    try:
        found = root.xpath(path)
    except (etree.XPathError, ValueError):
        return None
    return found[0] if found and isinstance(found[0], etree._Element) else None


def _decl_of(element: etree._Element) -> Decl | None:
    path = [element.tag]
    parent = element.getparent()
    while parent is not None:
        path.insert(0, parent.tag)
        parent = parent.getparent()
    return STRUCTURE.find(path)


def content_problems(tag: str, decl: Decl, child_tags: list[str], names: Namer) -> list[str]:
    """Unknown and repeated children of an element (by its declaration), one message each."""
    counts = Counter(child_tags)
    problems = []
    unknown = [name for name in counts if name not in decl.children]
    if unknown:
        word = names.element_word + ("s" if len(unknown) > 1 else "")
        problems.append(f"unknown {word} {', '.join(names.el(t) for t in unknown)} in {names.el(tag)}")
    for name, count in counts.items():
        if name in decl.children and count > 1 and name not in decl.repeatable:
            times = "twice" if count == 2 else f"{count} times"
            problems.append(f"{names.el(name)} appears {times} in {names.el(tag)}")
    return problems


def join_messages(messages: list[str]) -> str:
    unique = list(dict.fromkeys(messages)) or ["the document does not match the v1 schema"]
    extra = len(unique) - MAX_MESSAGES
    text = "; ".join(unique[:MAX_MESSAGES])
    if extra > 0:
        text += f"; and {extra} more problem{'s' if extra > 1 else ''}"
    return text


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
            decl = _decl_of(parent) if parent is not None else None
            found = (content_problems(parent.tag, decl, [c.tag for c in parent if isinstance(c.tag, str)], names)
                     if decl is not None else [])
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
            node = _at(root, path)
            decl = _decl_of(node) if node is not None else None
            type_name = (decl.attributes.get(attribute) if attribute else decl.leaf_type) if decl else None
            if node is not None:
                value = node.get(attribute) if attribute else node.text
            else:
                found_value = _VALUE_IN_MESSAGE.search(detail)
                value = (found_value.group(1) or found_value.group(2)) if found_value else ""
            subject = names.attr(element, attribute) if attribute else names.el(element)
            messages.append(type_message(subject, type_name, value) or f"{names.el(element)}: {detail.strip()}")
    return join_messages(messages)


def validate(root: etree._Element, kinds: tuple[str, ...], names: Namer = XML_NAMES,
             before_explaining: Callable[[etree._Element], None] | None = None) -> str:
    """Check ``root`` against the schema of its root element, which must be one of ``kinds``;
    raise :class:`BadDocument` (400) with one message naming what is wrong. Returns the kind.

    ``before_explaining(root)`` runs only when the document is invalid, before the schema
    errors are read; it may raise a more fundamental error (e.g. "nested too deeply")."""
    if root.tag not in kinds:
        if before_explaining is not None:
            before_explaining(root)
        raise BadDocument(f"expected {expected_roots(kinds, names)} document, got {names.el(str(root.tag))}",
                          reason="schema")
    schema = _SCHEMAS[root.tag]
    if schema(root):
        return root.tag
    log = schema.error_log
    if before_explaining is not None:
        before_explaining(root)
    raise BadDocument(_explain(root, log, names), reason="schema")


def expected_roots(kinds: tuple[str, ...], names: Namer) -> str:
    """``a <task>`` or ``a <person> or <organisation>``."""
    return "a " + " or ".join(names.el(kind) for kind in kinds)
