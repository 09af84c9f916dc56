"""The embedded Capsule API v2 emulator: a persistent stand-in for the v2 Task API."""
