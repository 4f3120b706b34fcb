"""Shared fixtures: every test makes its own audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from codecbench.synthetic import speech_like


def write_with_pyav(path: Path, samples: np.ndarray, sample_rate_hz: int, codec: str, container: str) -> Path:
    """Encode mono float audio into a container soundfile cannot write (m4a, for instance)."""
    import av

    with av.open(str(path), mode="w", format=container) as output:
        stream = output.add_stream(codec, rate=sample_rate_hz)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(samples.astype(np.float32)[None, :], format="flt", layout="mono")
        frame.sample_rate = sample_rate_hz
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)
    return path


@pytest.fixture(scope="session")
def speech_16k() -> np.ndarray:
    """Four seconds of speech-like audio at 16 kHz."""
    return speech_like(4.0, 16_000, seed=7)


@pytest.fixture
def speech_wav(tmp_path: Path, speech_16k: np.ndarray) -> Path:
    path = tmp_path / "speech.wav"
    soundfile.write(path, speech_16k, 16_000, subtype="PCM_16")
    return path
