"""Migration tools for teams leaving API v1, built on the same resource declarations as the proxy.

* `convert`: stored v1 documents <-> v2 bodies, offline (`convert.py`);
* `explain`: the v2 calls the proxy would make for one v1 request, found by running the real
  proxy in front of a recording emulator (`explain.py`, also `POST /_proxy/explain`);
* the usage inventory: which v1 routes each client still calls (`usage_inventory.py` counts,
  `usage_store.py` keeps the file, `usage.py` serves `GET /_proxy/usage`);
* `commands.py`: the `convert`, `explain` and `usage` subcommands of `capsule-proxy`.
"""
