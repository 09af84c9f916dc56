"""v1 calls that real clients make (capsule-v1-surface.md §3-§7) and the proxy does not
translate. They answer 501 naming the call, never a 404 that a v1 client would read as "that
record does not exist" and then create a duplicate or delete its own copy. The usage inventory
and the metrics show them by these templates, so operators see what their fleet still calls.
A path that is neither declared by a family nor listed here was never v1: a 404.
"""

from __future__ import annotations

#: (methods, v1 path template): methods are "GET|PUT" or "*".
UNTRANSLATED: tuple[tuple[str, str], ...] = (
    # cases: AJ creates them here, with no documented way to name the party
    ("POST", "/api/kase"),
    # custom fields: the 2010-era per-field calls, and the v1 documentation's typo
    ("*", "/api/{kind:party|opportunity|kase}/{id}/customfield/{fid}"),
    ("*", "/api/opportuntity/{id}/customfields"),
)
