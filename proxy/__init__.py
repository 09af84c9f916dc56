"""capsule-proxy: legacy Capsule CRM API v1 clients, unchanged, against API v2."""
