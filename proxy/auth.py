"""v1 authentication: HTTP Basic with the API token as the user name, any password.

Two modes decide which token goes upstream as `Authorization: Bearer <token>`:
- passthrough: the client's own token (clients hold v2 personal access tokens);
- static: the proxy's configured token, for clients whose token is in the allow-list.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hmac


class AuthError(Exception):
    """401: the credentials are missing, malformed or not allowed; the message says which."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def basic_token(header: str | None) -> str:
    """The user-name part of `Authorization: Basic base64(token:password)`; AuthError otherwise."""
    return _decode(header or "")


@functools.lru_cache(maxsize=1024)  # clients send the same header on every call
def _decode(header: str) -> str:
    if not header:
        raise AuthError("authentication required: send the API token as the HTTP Basic user name")
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise AuthError("authentication must be HTTP Basic with the API token as the user name")
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthError("the HTTP Basic credentials are not valid base64 of token:password") from None
    token, _, _password = decoded.partition(":")  # the password is ignored; it may be empty
    token = token.strip()
    # A token goes upstream in a header: any control character would make that header invalid.
    if not token or not token.isprintable() or not token.isascii():
        raise AuthError("the HTTP Basic user name (the API token) is empty or holds characters "
                        "a token cannot have")
    return token


class Authenticator:
    def __init__(self, mode: str, static_token: str = "", allowed_clients: tuple[str, ...] = ()):
        self.mode = mode
        self.update(static_token, allowed_clients)

    def update(self, static_token: str, allowed_clients: tuple[str, ...]) -> None:
        """New static token and allow-list (SIGHUP); the mode itself needs a restart."""
        self._static_token = static_token
        self._allowed = [client.encode() for client in allowed_clients]

    def upstream_token_for(self, token: str) -> str:
        """The bearer token to send upstream for a client presenting this v1 token."""
        if self.mode == "passthrough":
            return token
        candidate = token.encode()
        # Compare against every entry, in constant time each, so timing tells nothing.
        allowed = False
        for client in self._allowed:
            allowed |= hmac.compare_digest(candidate, client)
        if not allowed:
            raise AuthError("this API token is not allowed through the proxy")
        return self._static_token
