"""The codec registry: every codec codecbench knows, whether it can run, and how to load it.

Adding a codec is one module (its spec, its :class:`Codec`, a load function) and one
:class:`RegistryEntry` in :data:`_ENTRIES` below. A neural codec whose weights live on the
Hugging Face Hub also names them (:class:`~codecbench.codecs.checkpoints.Weights`); the
registry then handles readiness, ``--model-dir`` and ``codecbench download`` for it.
"""

from __future__ import annotations

import difflib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from codecbench.codecs import anchors, codec2, dac, encodec, facodec, funcodec, opus
from codecbench.codecs.base import Codec, CodecNotReadyError, CodecSpec, LoadOptions, Readiness
from codecbench.codecs.checkpoints import Weights, weights_readiness
from codecbench.codecs.freqcodec import codec as freqcodec
from codecbench.codecs.token_codec import torch_only_readiness, torch_readiness


def _always_ready(options: LoadOptions) -> Readiness:
    return Readiness.ok()


@dataclass(frozen=True)
class RegistryEntry:
    """A codec as the registry knows it.

    Args:
        spec: what it is, known without loading anything.
        load: builds the codec; called only when it is ready.
        check_readiness: whether its libraries (and device) are usable.
        weights: the files a neural codec loads and where ``codecbench download`` gets them;
            ``None`` for codecs without weights.
        spec_from_model_dir: for codecs whose operating points come from the model, reads
            them from a model directory without loading weights.
    """

    spec: CodecSpec
    load: Callable[[LoadOptions], Codec]
    check_readiness: Callable[[LoadOptions], Readiness] = _always_ready
    weights: Weights | None = None
    spec_from_model_dir: Callable[[Path], CodecSpec] | None = None

    @property
    def name(self) -> str:
        return self.spec.name


def _classical(spec: CodecSpec, load: Callable[[], Codec], check: Callable[[], Readiness] | None = None) -> RegistryEntry:
    return RegistryEntry(spec, lambda options: load(), (lambda options: check()) if check else _always_ready)


_ENTRIES: dict[str, RegistryEntry] = {
    entry.name: entry
    for entry in (
        _classical(opus.OPUS_SPEC, opus.OpusCodec, opus.opus_readiness),
        _classical(codec2.CODEC2_SPEC, codec2.Codec2Codec, codec2.codec2_readiness),
        _classical(anchors.LOWPASS_3500_SPEC, lambda: anchors.LowpassAnchor(anchors.LOWPASS_3500_SPEC, 3500.0)),
        _classical(anchors.LOWPASS_7000_SPEC, lambda: anchors.LowpassAnchor(anchors.LOWPASS_7000_SPEC, 7000.0)),
        RegistryEntry(
            encodec.ENCODEC_24KHZ_SPEC, encodec.load_encodec_24khz, torch_readiness, encodec.ENCODEC_24KHZ_WEIGHTS
        ),
        *(RegistryEntry(model.spec, model.load, torch_readiness, model.weights) for model in funcodec.FUNCODEC_MODELS),
        *(RegistryEntry(model.spec, model.load, torch_only_readiness, model.weights) for model in freqcodec.FREQCODEC_MODELS),
        *(RegistryEntry(variant.spec, variant.load, torch_readiness, variant.weights) for variant in dac.DAC_VARIANTS),
        RegistryEntry(
            funcodec.FUNCODEC_DIR_SPEC, funcodec.load_funcodec_dir, torch_readiness,
            funcodec.FUNCODEC_DIR_WEIGHTS, funcodec.funcodec_dir_spec,
        ),
        RegistryEntry(
            freqcodec.FREQCODEC_DIR_SPEC, freqcodec.load_freqcodec_dir, torch_only_readiness,
            freqcodec.FREQCODEC_DIR_WEIGHTS, freqcodec.freqcodec_dir_spec,
        ),
        RegistryEntry(
            encodec.ENCODEC_DIR_SPEC, encodec.load_encodec_dir, torch_readiness,
            encodec.ENCODEC_DIR_WEIGHTS, encodec.encodec_dir_spec,
        ),
        RegistryEntry(facodec.FACODEC_SPEC, facodec.load_facodec_codec, torch_only_readiness, facodec.FACODEC_WEIGHTS),
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


def readiness(name: str, options: LoadOptions = LoadOptions()) -> Readiness:
    """Whether codec ``name`` can run now with ``options``. A failing check is reported, not raised."""
    entry = get_entry(name)
    if options.model_dir is not None and entry.weights is None:
        return Readiness(False, f"{name} loads no model, so --model-dir does not apply to it.", "Leave out --model-dir.")
    try:
        state = entry.check_readiness(options)
        if state.ready and entry.weights is not None:
            state = weights_readiness(name, entry.weights, options)
    except Exception as error:  # a broken check must not hide the other codecs
        return Readiness(False, f"its readiness check failed: {error!r}.")
    return state


def codec_spec(name: str, options: LoadOptions = LoadOptions()) -> CodecSpec:
    """The spec of ``name`` as ``options`` would load it: for codecs whose operating points come
    from the model, read from ``options.model_dir`` (without loading weights).

    Raises:
        ValueError: unknown codec, or a model directory whose config cannot be read.
    """
    entry = get_entry(name)
    if entry.spec_from_model_dir is not None and options.model_dir is not None:
        return entry.spec_from_model_dir(options.model_dir)
    return entry.spec


_loaded: dict[tuple[str, LoadOptions], Codec] = {}
_load_locks: dict[tuple[str, LoadOptions], threading.Lock] = {}
_load_locks_guard = threading.Lock()


def load_codec(name: str, options: LoadOptions = LoadOptions()) -> Codec:
    """Load codec ``name`` with ``options``; each (name, options) is loaded once per process,
    even when several threads (app users) ask for it at the same time.

    Raises:
        ValueError: unknown codec, or a model that is not what the codec expects.
        CodecNotReadyError: the codec cannot run here; the message says why and what to do.
    """
    key = (name, options)
    with _load_locks_guard:  # one lock per codec: a slow load does not hold up the others
        lock = _load_locks.setdefault(key, threading.Lock())
    with lock:
        codec = _loaded.get(key)
        if codec is None:
            entry = get_entry(name)
            state = readiness(name, options)
            if not state.ready:
                raise CodecNotReadyError(f"codec {name} is {state.describe()}")
            codec = _loaded[key] = entry.load(options)
    return codec


def _forget_loaded_codecs() -> None:
    """Drop every loaded codec (tests use this after changing the codecbench home)."""
    with _load_locks_guard:
        _loaded.clear()


load_codec.cache_clear = _forget_loaded_codecs  # type: ignore[attr-defined]
