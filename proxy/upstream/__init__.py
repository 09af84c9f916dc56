"""The v2 side: the HTTP client and the cached look-ups the translation needs."""
