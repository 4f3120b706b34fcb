"""Tar archives (plain, gzip, bzip2 or xz) read in place: list members once, read one member's bytes.

AISHELL-1 ships one ``.tar.gz`` per speaker, and AISHELL-2's test sets may still be packed as
``test.tar.gz``; extracting them is not needed to evaluate. Indexing streams through each
archive once and records where each member's data lies in the uncompressed stream. Reading a
member seeks the decompressed stream to that offset. An open archive is kept per process, so
members read in archive order cost one pass of decompression in all; reading backwards
restarts from the top of that archive.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import tarfile
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from codecbench.audio import AudioError

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")
OPEN_ARCHIVES_KEPT = 4
# What a damaged or truncated archive raises while it is read.
ARCHIVE_ERRORS = (tarfile.TarError, EOFError, zlib.error, OSError, lzma.LZMAError)


@dataclass(frozen=True)
class ArchiveMember:
    """A regular file in an archive: its name (without a leading ``./``) and where its data lies."""

    name: str
    data_offset_bytes: int
    size_bytes: int


@dataclass(frozen=True)
class ArchiveListing:
    """The regular-file members of an archive, in archive order, and any text members read on the way.

    ``error`` is set when the archive is damaged: the members before the damage are listed.
    """

    members: tuple[ArchiveMember, ...]
    texts: dict[str, bytes]
    error: str | None = None


def is_archive(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(ARCHIVE_SUFFIXES)


def archive_stem(path: Path) -> str:
    """``S0764.tar.gz`` -> ``S0764``."""
    name = path.name
    for suffix in ARCHIVE_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def member_name(name: str) -> str:
    """Member names as listed, without ``./`` prefixes."""
    while name.startswith("./"):
        name = name[2:]
    return name


def list_archive(archive: Path, *, read_text: Callable[[str], bool] = lambda name: False) -> ArchiveListing:
    """Stream through an archive once, listing its files and reading the small ones ``read_text`` picks.

    A truncated archive is detected (tarfile alone would take a cut-off header for the end),
    and the members before the damage are still listed.
    """
    members: list[ArchiveMember] = []
    texts: dict[str, bytes] = {}
    try:
        with _open_decompressed(archive) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for info in tar:
                if not info.isfile():
                    continue
                name = member_name(info.name)
                members.append(ArchiveMember(name, info.offset_data, info.size))
                if read_text(name):
                    handle = tar.extractfile(info)
                    texts[name] = handle.read() if handle is not None else b""
            while stream.read(1 << 20):  # the rest, so that a cut-off compressed stream raises here
                pass
            if members and stream.tell() < members[-1].data_offset_bytes + members[-1].size_bytes:
                raise EOFError("the archive ends inside its last member")
    except ARCHIVE_ERRORS as error:
        return ArchiveListing(tuple(members), texts, f"{archive}: the archive is damaged or truncated ({error})")
    return ArchiveListing(tuple(members), texts)


def first_member_name(archive: Path) -> str | None:
    """The name of the first real entry (file or folder), reading only the archive's first headers."""
    try:
        with _open_decompressed(archive) as stream, tarfile.open(fileobj=stream, mode="r|") as tar:
            for info in tar:
                name = member_name(info.name).strip("/")
                if name not in ("", "."):
                    return name
    except ARCHIVE_ERRORS:
        return None
    return None


def read_member(archive: Path, member: str, data_offset_bytes: int | None, size_bytes: int | None) -> bytes:
    """The bytes of one member; without its offset and size, the archive is listed first to find them.

    Raises:
        AudioError: the archive is missing or damaged, or has no such member.
    """
    name = f"{archive}:{member}"
    if not archive.is_file():
        raise AudioError(f"{name}: no such archive ({archive}).")
    if data_offset_bytes is None or size_bytes is None:
        located = _member_locations(archive, _archive_version(archive)).get(member_name(member))
        if located is None:
            raise AudioError(f"{name}: the archive has no member of that name.")
        data_offset_bytes, size_bytes = located
    try:
        data = _OPEN_ARCHIVES.read(archive, data_offset_bytes, size_bytes)
    except ARCHIVE_ERRORS as error:
        raise AudioError(f"{name}: cannot read it from the archive ({error}); the archive may be damaged.") from error
    if len(data) != size_bytes:
        raise AudioError(
            f"{name}: the archive ends {len(data)} bytes into this member's {size_bytes}; it is truncated."
        )
    return data


def _archive_version(archive: Path) -> tuple[int, int]:
    stat = archive.stat()
    return stat.st_size, stat.st_mtime_ns


@lru_cache(maxsize=8)
def _member_locations(archive: Path, version: tuple[int, int]) -> dict[str, tuple[int, int]]:
    listing = list_archive(archive)
    return {member.name: (member.data_offset_bytes, member.size_bytes) for member in listing.members}


def _open_decompressed(archive: Path) -> io.BufferedIOBase:
    with open(archive, "rb") as probe:
        magic = probe.read(6)
    if magic.startswith(b"\x1f\x8b"):
        return gzip.open(archive, "rb")
    if magic.startswith(b"BZh"):
        return bz2.open(archive, "rb")
    if magic.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(archive, "rb")
    return open(archive, "rb")


class _OpenArchives:
    """A few archives kept open and decompressing, per process (forked workers start afresh)."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._open: OrderedDict[Path, io.BufferedIOBase] = OrderedDict()

    def read(self, archive: Path, offset: int, size: int) -> bytes:
        with self._lock:
            if self._pid != os.getpid():  # a forked child must not share its parent's file positions
                self._open = OrderedDict()
                self._pid = os.getpid()
            stream = self._open.pop(archive, None)
            if stream is None:
                stream = _open_decompressed(archive)
            self._open[archive] = stream
            while len(self._open) > self._size:
                self._open.popitem(last=False)[1].close()
            try:
                stream.seek(offset)
                return stream.read(size)
            except BaseException:
                self._open.pop(archive).close()
                raise


_OPEN_ARCHIVES = _OpenArchives(OPEN_ARCHIVES_KEPT)
