"""The metadata of the long-form corpora (WenetSpeech.json, GigaSpeech.json), streamed and cached.

These files hold every segment of every subset (GBs for the training subsets) in one JSON
object ``{"audios": [...], ...}``, while a test set needs a few thousand segments. The file is
read once, in chunks, one audio entry at a time (never whole in memory); the entries with
segments in the evaluation subsets are kept, with only those segments, and cached under the
codecbench home, keyed by the file's path, size and modification time, so the next run (or the
other test set of the same corpus) reads a small file instead.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codecbench.evaluation.datasets.utterance import TestSetError
from codecbench.paths import codecbench_home

logger = logging.getLogger(__name__)

CACHE_FORMAT_VERSION = 1
CHUNK_CHARS = 1 << 22
_TRUNCATION_REACH_CHARS = 1 << 20
_WHITESPACE = re.compile(r"[ \t\n\r]*")


def normalized_subset(name: str) -> str:
    """``{TEST}`` (GigaSpeech) and ``TEST_NET`` (WenetSpeech) spelled one way: no braces, upper case."""
    return name.strip().strip("{}").upper()


def evaluation_audios(json_path: Path, corpus: str, subsets: frozenset[str]) -> list[dict[str, Any]]:
    """The audio entries with segments in ``subsets``, each keeping only those segments.

    Read from the cache when the JSON is unchanged since it was made; otherwise streamed from
    the JSON and cached.
    """
    cache_path = _cache_path(json_path, corpus, subsets)
    cached = _read_cache(cache_path)
    if cached is not None:
        return cached
    logger.info("reading %s (once; the evaluation subsets are cached in %s)", json_path, cache_path)
    audios = []
    for audio in iter_json_array(json_path, "audios"):
        if not isinstance(audio, dict):
            raise TestSetError(f"{json_path}: an entry of 'audios' is not an object: {str(audio)[:80]}")
        segments = [
            segment
            for segment in audio.get("segments") or ()
            if isinstance(segment, dict)
            and {normalized_subset(name) for name in segment.get("subsets") or ()} & subsets
        ]
        if segments:
            audios.append({**audio, "segments": segments})
    _write_cache(cache_path, audios)
    return audios


def iter_json_array(path: Path, key: str) -> Iterator[Any]:
    """The items of the array under ``key`` in the file's top-level object, one at a time.

    Raises:
        TestSetError: the file is not such JSON (the message gives the character position).
    """
    with open(path, encoding="utf-8") as file:
        yield from _array_items(_JsonStream(path, file), path, key)


def _array_items(stream: _JsonStream, path: Path, key: str) -> Iterator[Any]:
    stream.expect("{")
    while True:
        if stream.next_char() == "}":
            raise TestSetError(f"{path}: the top-level object has no '{key}' list.")
        name = stream.value()
        stream.expect(":")
        if name == key:
            stream.expect("[")
            if stream.next_char() == "]":
                return
            while True:
                yield stream.value()
                if stream.expect(",", "]") == "]":
                    return
        stream.value()  # another key's value (before the list, these are small)
        if stream.expect(",", "}") == "}":
            raise TestSetError(f"{path}: the top-level object has no '{key}' list.")


class _JsonStream:
    """A JSON text read in chunks, decoded value by value with the standard library's C scanner."""

    def __init__(self, path: Path, file: io.TextIOBase) -> None:
        self._path = path
        self._file = file
        self._decoder = json.JSONDecoder()
        self._buffer = ""
        self._position = 0
        self._consumed = 0  # characters dropped from the front of the buffer
        self._eof = False

    def next_char(self) -> str:
        """The next non-whitespace character, not consumed ("" at the end of the file)."""
        while True:
            self._position = _WHITESPACE.match(self._buffer, self._position).end()
            if self._position < len(self._buffer) or self._eof:
                return self._buffer[self._position : self._position + 1]
            self._fill()

    def expect(self, *allowed: str) -> str:
        char = self.next_char()
        if char not in allowed:
            self._fail(f"expected {' or '.join(repr(a) for a in allowed)}, found {char or 'the end of the file'!r}")
        self._position += 1
        return char

    def value(self) -> Any:
        self.next_char()
        while True:
            try:
                value, end = self._decoder.raw_decode(self._buffer, self._position)
            except json.JSONDecodeError as error:
                # Running out of text fails near the buffer's end (or at the start of a string
                # cut short); an error well before it is in the file itself.
                if self._eof or error.pos < len(self._buffer) - _TRUNCATION_REACH_CHARS:
                    self._fail(error.msg, error.pos)
                self._fill()
                continue
            if end == len(self._buffer) and not self._eof:  # a number may continue in the next chunk
                self._fill()
                continue
            self._position = end
            return value

    def _fill(self) -> None:
        if self._position > CHUNK_CHARS:
            self._consumed += self._position
            self._buffer = self._buffer[self._position :]
            self._position = 0
        try:
            chunk = self._file.read(max(CHUNK_CHARS, len(self._buffer)))
        except UnicodeDecodeError as error:
            raise TestSetError(f"{self._path}: is not UTF-8 text ({error}).") from None
        if chunk:
            self._buffer += chunk
        else:
            self._eof = True

    def _fail(self, message: str, position: int | None = None) -> None:
        at = self._consumed + (self._position if position is None else position)
        raise TestSetError(f"{self._path}: not valid JSON at character {at}: {message}.")


def _cache_path(json_path: Path, corpus: str, subsets: frozenset[str]) -> Path:
    resolved = json_path.resolve()
    stat = resolved.stat()
    key = json.dumps([CACHE_FORMAT_VERSION, str(resolved), stat.st_size, stat.st_mtime_ns, sorted(subsets)])
    digest = hashlib.sha256(key.encode()).hexdigest()[:20]
    return codecbench_home() / "cache" / "testsets" / f"{corpus}-{digest}.json.gz"


def _read_cache(path: Path) -> list[dict[str, Any]] | None:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, EOFError, ValueError) as error:
        logger.warning("ignoring the damaged test-set cache %s (%s); reading the corpus JSON again", path, error)
        return None


def _write_cache(path: Path, audios: list[dict[str, Any]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        with gzip.open(temporary, "wt", encoding="utf-8") as handle:
            json.dump(audios, handle, ensure_ascii=False)
        os.replace(temporary, path)
    except OSError as error:  # a read-only home only costs speed
        logger.warning("cannot cache the test-set index at %s (%s)", path, error)
