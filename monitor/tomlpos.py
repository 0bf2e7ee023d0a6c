"""Finds the line where a key path is defined in a TOML text, for error messages."""

from __future__ import annotations

import re
from collections.abc import Sequence


def find_line(text: str, loc: Sequence[str | int]) -> int | None:
    """The 1-based line where `loc` (e.g. ["lists", 0, "instruments", 2]) is defined in a TOML text.

    Falls back to the longest prefix of `loc` that is found, or None.
    """
    lines = _index_lines(text)
    key = tuple(str(part) for part in loc)
    while key:
        if key in lines:
            return lines[key]
        key = key[:-1]
    return None


def _index_lines(text: str) -> dict[tuple[str, ...], int]:
    """Maps every key path (tables, keys, array elements, inline-table keys) to its first line."""
    found: dict[tuple[str, ...], int] = {}
    aot_counts: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    rows = text.splitlines()
    row = 0
    while row < len(rows):
        stripped = rows[row].strip()
        header = re.match(r"^(\[\[?)\s*([^\]]+?)\s*\]\]?", stripped)
        if header:
            parts = tuple(_split_key(header[2]))
            if header[1] == "[[":
                index = aot_counts.get(parts, 0)
                aot_counts[parts] = index + 1
                parts = (*parts, str(index))
            table = parts
            _mark(found, table, row + 1)
        else:
            assign = re.match(
                r'^((?:[A-Za-z0-9_\-]+|"[^"]*"|\'[^\']*\')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|\'[^\']*\'))*)\s*=\s*',
                stripped,
            )
            if assign:
                path = (*table, *_split_key(assign[1]))
                _mark(found, path, row + 1)
                value_row, value_col = row, rows[row].index(stripped) + assign.end()
                row = _index_value(rows, value_row, value_col, path, found)
        row += 1
    return found


def _mark(found: dict[tuple[str, ...], int], path: tuple[str, ...], line: int) -> None:
    for n in range(1, len(path) + 1):
        found.setdefault(path[:n], line)


def _split_key(key: str) -> list[str]:
    return [part.strip().strip("\"'") for part in re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', key)]


def _index_value(
    rows: list[str], row: int, col: int, path: tuple[str, ...], found: dict[tuple[str, ...], int]
) -> int:
    """Walks a value (arrays and inline tables may span lines); returns the row where it ends."""
    stack: list[tuple[tuple[str, ...], list[int]]] = []  # (path, [next index]) per open bracket
    pending: tuple[str, ...] | None = None
    while row < len(rows):
        text = rows[row]
        while col < len(text):
            char = text[col]
            if char == "#":
                break
            if stack and stack[-1][1][0] >= 0 and char not in " \t,]}" and pending is None:
                # The first character of an array element.
                elem_path = (*stack[-1][0], str(stack[-1][1][0]))
                _mark(found, elem_path, row + 1)
                pending = elem_path
            if char in "\"'":
                end = _string_end(text, col)
                col = end
            elif char == "[":
                stack.append((pending or path, [0]))
                pending = None
            elif char == "{":
                stack.append((pending or path, [-1]))
                pending = None
                key = re.match(r"\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=", text[col + 1 :])
                if key:
                    _mark(found, (*stack[-1][0], key[1].strip('"')), row + 1)
            elif char in "]}":
                stack.pop()
                if not stack:
                    return row
                pending = None
            elif char == ",":
                if stack and stack[-1][1][0] >= 0:
                    stack[-1][1][0] += 1
                    pending = None
                elif stack:
                    key = re.match(r"\s*([A-Za-z0-9_\-]+|\"[^\"]*\")\s*=", text[col + 1 :])
                    if key:
                        _mark(found, (*stack[-1][0], key[1].strip('"')), row + 1)
            elif not stack:
                return row
            col += 1
        if not stack:
            return row
        row, col = row + 1, 0
    return row


def _string_end(text: str, start: int) -> int:
    quote = text[start]
    col = start + 1
    while col < len(text):
        if quote == '"' and text[col] == "\\":
            col += 2
            continue
        if text[col] == quote:
            return col
        col += 1
    return len(text)
