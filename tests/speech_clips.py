"""Speech clips for end-to-end tests: the team's shared real clips when they are there, else
generated speech-like stand-ins of a similar length, so the tests run (not skip) on any machine."""

from __future__ import annotations

import tempfile
from pathlib import Path

import soundfile

from codecbench.synthetic import speech_like

SPEECH = Path(__file__).resolve().parents[2] / "shared/speech"
STAND_INS = Path(tempfile.gettempdir()) / "codecbench-test-speech"
SAMPLE_RATE_HZ = 16_000


def speech_clip(relative: str, *, seconds: float, seed: int) -> Path:
    """``SPEECH/relative`` if it exists; otherwise a generated clip of ``seconds`` (same stem)."""
    shared = SPEECH / relative
    if shared.exists():
        return shared
    stand_in = STAND_INS / f"{Path(relative).stem}-{seed}.wav"
    if not stand_in.exists():
        STAND_INS.mkdir(parents=True, exist_ok=True)
        partial = stand_in.with_suffix(".partial.wav")
        soundfile.write(partial, speech_like(seconds, SAMPLE_RATE_HZ, seed=seed), SAMPLE_RATE_HZ, subtype="PCM_16")
        partial.replace(stand_in)  # atomic: tests in parallel never read half a file
    return stand_in
