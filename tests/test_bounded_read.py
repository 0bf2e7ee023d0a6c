"""monitor.files: only regular files are read, and never more than the cap."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from monitor.files import UnreadableFile, read_bytes_bounded, read_text_bounded


def test_regular_file_within_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_text("héllo", encoding="utf-8")
    assert read_text_bounded(path, 64) == "héllo"
    assert read_bytes_bounded(path, len("héllo".encode())) == "héllo".encode()


def test_larger_than_the_cap(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 2049)
    with pytest.raises(UnreadableFile, match="larger than 2 KiB"):
        read_bytes_bounded(path, 2048)


@pytest.mark.timeout(10)
def test_fifo_device_and_directory_are_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    zero = tmp_path / "zero"
    zero.symlink_to("/dev/zero")
    for path, kind in ((fifo, "a FIFO"), (zero, "a device"), (tmp_path, "a directory")):
        with pytest.raises(UnreadableFile) as info:
            read_bytes_bounded(path, 1024)
        assert str(info.value) == f"not a regular file ({kind})"


def test_missing_file_is_an_ordinary_os_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_bytes_bounded(tmp_path / "missing", 10)
