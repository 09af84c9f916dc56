"""The HTTP face of the proxy: aiohttp handlers generated from the resource declarations, the v1
middleware, errors, content negotiation and the list scan. The only layer that knows aiohttp,
the upstream client and the translation together."""
