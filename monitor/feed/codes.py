"""The API's numeric error codes, as carried in gRPC status details and trailers."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Not a port: a failed connect's details name the address ("ipv4:127.0.0.1:39301: ...").
_CODE = re.compile(r"(?<![:.\d])\b(\d{5})\b(?![.\d])")


def api_code(details: str | None, trailing: Iterable[tuple[str, str]] = ()) -> str | None:
    """The API's 5-digit code from the status details (e.g. `80002`) or the `message` trailer."""
    match = _CODE.search(details or "")
    if match:
        return match[1]
    for key, value in trailing:
        if key == "message" and (found := _CODE.search(value)):
            return found[1]
    return None
