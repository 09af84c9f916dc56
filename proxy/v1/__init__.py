"""The Capsule API v1 document layer: v1 XML and v1 JSON bodies <-> neutral records, validated
against the XSDs in ``schemas/``. Pure: no HTTP, no network, no knowledge of any v1 family.

Modules: ``documents`` (limits, errors, escaping, the neutral form), ``schemas`` (XSD loading,
the declaration tree, validation messages), ``xml_codec``, ``json_codec``, ``codec`` (the
format from HTTP headers, and format-dispatching decode/encode).
"""
