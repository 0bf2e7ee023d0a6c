"""Reading the settings and token files: bounded, one-line errors, the token cleaned and checked."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from monitor.files import KIB, read_bytes_bounded

SETTINGS_FILE_CAP = 1024 * KIB
TOKEN_FILE_CAP = 64 * KIB
"""A token is ~90 characters; a bigger file is a wrong path (a log, a device), not a token."""


class SettingsError(Exception):
    """The settings cannot be loaded; the message is one line fit for the terminal."""


def read_config_text(path: Path, named_by: str | None) -> str | None:
    """The settings file's text; None when the default file does not exist.

    Raises:
        SettingsError: a named file is missing, or any file is not a regular file, too big, not
            UTF-8 or not TOML.
    """
    try:
        raw = read_bytes_bounded(path, SETTINGS_FILE_CAP)
    except FileNotFoundError:
        if named_by is None:
            return None
        raise SettingsError(f"{named_by} {path}: no such settings file") from None
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {reason(exc)}") from None
    try:
        # Some editors start a UTF-8 file with a BOM, which TOML does not allow: drop it.
        text = raw.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SettingsError(f"{path}:{line}: the file is not valid UTF-8") from None
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # Python 3.11's TOMLDecodeError has no lineno attribute; the message ends "(at line L, column C)".
        match = re.search(r"at line (\d+)", str(exc))
        detail = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)$", "", str(exc))
        raise SettingsError(f"{path}:{match[1] if match else 1}: invalid TOML: {detail}") from None
    return text


def read_token_file(path: Path) -> str:
    """The token held by `path`, cleaned as `clean_token` does.

    Raises:
        SettingsError: the file cannot be read, is empty or holds something that is not a token.
    """
    try:
        text = read_bytes_bounded(path, TOKEN_FILE_CAP).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise SettingsError(f"cannot read token file {path}: {reason(exc)}") from None
    token = clean_token(text, f"in token file {path}")
    if token is None:
        raise SettingsError(f"token file {path} is empty")
    return token


def clean_token(value: str, source: str) -> str | None:
    """`value` without a BOM and surrounding whitespace; None when nothing is left.

    Raises:
        SettingsError: a character no header may carry; the message gives its position, never it.
    """
    text = value.strip().lstrip("\ufeff").strip()
    for position, char in enumerate(text, 1):
        if char in "\r\n":
            raise SettingsError(
                f"the token {source} has a line break inside: put the token alone on one line"
            )
        if not "!" <= char <= "~":
            kind = "a non-ASCII character" if ord(char) > 0x7E else "a space or control character"
            raise SettingsError(
                f"the token {source} has {kind} at position {position}: a token is ASCII letters, "
                "digits and punctuation (copy it again)"
            )
    return text or None


def reason(exc: BaseException) -> str:
    """A short reason for an OS/decoding error without the noise of its repr."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def token_file_notices(token_file: Path | None) -> list[str]:
    """A warning when the token file is readable by others."""
    if token_file is None:
        return []
    try:
        mode = token_file.expanduser().stat().st_mode
    except OSError:
        return []
    if mode & 0o077:
        return [f"warning: token file {token_file} is readable by group/others; run: chmod 600 {token_file}"]
    return []
