"""v1 authentication: HTTP Basic with the API token as the user name, any password.

Two modes decide which token goes upstream as `Authorization: Bearer <token>`:
- passthrough: the client's own token (clients hold v2 personal access tokens);
- static: the proxy's configured token, for clients whose token is in the allow-list.
"""

from __future__ import annotations

import base64
import functools
import binascii
import hmac

from .problems import BASIC_CHALLENGE as CHALLENGE, V1Error



def basic_token(header: str | None) -> str:
    """The user-name part of `Authorization: Basic base64(token:password)`; 401 otherwise."""
    if header is not None:
        return _decoded(header)
    return _decode(header)


@functools.lru_cache(maxsize=1024)  # clients send the same header on every call
def _decoded(header: str) -> str:
    return _decode(header)


def _decode(header: str | None) -> str:
    if not header:
        raise V1Error(401, "authentication required: send the API token as the HTTP Basic user name",
                      CHALLENGE)
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise V1Error(401, "authentication must be HTTP Basic with the API token as the user name",
                      CHALLENGE)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise V1Error(401, "the HTTP Basic credentials are not valid base64 of token:password",
                      CHALLENGE) from None
    token, _, _password = decoded.partition(":")  # the password is ignored; it may be empty
    token = token.strip()
    if not token or any(ch in token for ch in "\r\n\x00"):
        raise V1Error(401, "the HTTP Basic user name (the API token) is empty or malformed", CHALLENGE)
    return token


class Authenticator:
    def __init__(self, mode: str, static_token: str = "", allowed_clients: tuple[str, ...] = ()):
        self.mode = mode
        self.update(static_token, allowed_clients)

    def update(self, static_token: str, allowed_clients: tuple[str, ...]) -> None:
        """New static token and allow-list (SIGHUP); the mode itself needs a restart."""
        self._static_token = static_token
        self._allowed = [client.encode() for client in allowed_clients]

    def upstream_token(self, authorization: str | None) -> str:
        """The bearer token to send upstream for a request with this Authorization header."""
        return self.upstream_token_for(basic_token(authorization))

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
            raise V1Error(401, "this API token is not allowed through the proxy", CHALLENGE)
        return self._static_token
