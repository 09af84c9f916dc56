"""Every typed key the proxy keeps on its app and its requests, in one place."""

from __future__ import annotations

from aiohttp import web

from .services import Services

SERVICES = web.AppKey("services", Services)

CLIENT_TOKEN = web.RequestKey("capsule_client_token", str)   # the v1 client's own token
TOKEN = web.RequestKey("capsule_upstream_token", str)        # the bearer token sent upstream
WARNINGS = web.RequestKey("capsule_warnings", list)          # what the answer's Warning header says
NOUN = web.RequestKey("capsule_noun", str)                   # what the route's records are called
PARAMS = web.RequestKey("capsule_params", dict)              # the v1 route's path parameters
PAGES = web.RequestKey("capsule_pages", list)                # [v2 list pages read], for metrics
ROUTE = web.RequestKey("capsule_route", object)             # the resolved v1 route (router.Match)
LABEL = web.RequestKey("capsule_label", str)                 # the route as metrics and usage show it
FORMAT = web.RequestKey("capsule_format", str)               # the answer's format, when a suffix chose it
