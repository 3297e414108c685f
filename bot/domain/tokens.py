"""The token in a channel page's URL: 256 random bits, stored only as its SHA-256.

Hashed because the database is read by more people and processes than should be able to open every channel's
page (backups, replicas, a `psql` session): with the hash alone nobody can rebuild the URL. The token has 256 bits
of entropy, so a fast unsalted hash is enough (nothing to brute-force), and the page is found by an indexed lookup
of the hash. The cost: the URL is shown once, when issued; `publish=rotate` gives a new one.
"""

from __future__ import annotations

import hashlib
import re
import secrets

TOKEN_BYTES = 32
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")
"""What `secrets.token_urlsafe(32)` returns; anything else is answered 404 before the database is asked."""


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def looks_like_token(text: str) -> bool:
    return TOKEN_SHAPE.fullmatch(text) is not None


def redact(path: str) -> str:
    """A request path with the token replaced (for access logs): `/c/<token>/x.html` → `/c/…/x.html`."""
    return re.sub(r"/c/[^/?#]+", "/c/…", path)
