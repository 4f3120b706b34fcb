"""The codec registry: every codec codecbench knows, whether it can run, and how to load it.

Adding a codec is one module (its spec, its :class:`Codec`, a readiness check) and one
:class:`RegistryEntry` in :data:`_ENTRIES` below.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from codecbench.codecs import anchors, codec2, opus
from codecbench.codecs.base import Codec, CodecNotReadyError, CodecSpec, Readiness


@dataclass(frozen=True)
class RegistryEntry:
    """A codec as the registry knows it: its spec, how to load it, how to tell if it can run."""

    spec: CodecSpec
    load: Callable[[], Codec]
    check_readiness: Callable[[], Readiness]

    @property
    def name(self) -> str:
        return self.spec.name


def _always_ready() -> Readiness:
    return Readiness.ok()


_ENTRIES: dict[str, RegistryEntry] = {
    entry.name: entry
    for entry in (
        RegistryEntry(opus.OPUS_SPEC, opus.OpusCodec, opus.opus_readiness),
        RegistryEntry(codec2.CODEC2_SPEC, codec2.Codec2Codec, codec2.codec2_readiness),
        RegistryEntry(
            anchors.LOWPASS_3500_SPEC,
            lambda: anchors.LowpassAnchor(anchors.LOWPASS_3500_SPEC, 3500.0),
            _always_ready,
        ),
        RegistryEntry(
            anchors.LOWPASS_7000_SPEC,
            lambda: anchors.LowpassAnchor(anchors.LOWPASS_7000_SPEC, 7000.0),
            _always_ready,
        ),
    )
}


def registry_entries() -> list[RegistryEntry]:
    """All registered codecs, in listing order."""
    return list(_ENTRIES.values())


def get_entry(name: str) -> RegistryEntry:
    """The entry called ``name``.

    Raises:
        ValueError: no such codec; the message suggests close names and lists all.
    """
    try:
        return _ENTRIES[name]
    except KeyError:
        close = difflib.get_close_matches(name, _ENTRIES, n=3)
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        raise ValueError(
            f"unknown codec {name!r}.{hint} Known codecs: {', '.join(_ENTRIES)} "
            "(`codecbench codecs` lists them with their bitrates)."
        ) from None


def readiness(name: str) -> Readiness:
    """Whether codec ``name`` can run now. A failing check is reported, not raised."""
    entry = get_entry(name)
    try:
        return entry.check_readiness()
    except Exception as error:  # a broken check must not hide the other codecs
        return Readiness(False, f"its readiness check failed: {error!r}.")


@lru_cache(maxsize=None)
def load_codec(name: str) -> Codec:
    """Load codec ``name`` (once per process).

    Raises:
        ValueError: unknown codec.
        CodecNotReadyError: the codec cannot run here; the message says why and what to do.
    """
    entry = get_entry(name)
    state = readiness(name)
    if not state.ready:
        raise CodecNotReadyError(f"codec {name} is {state.describe()}")
    return entry.load()
