"""Where ViSQOL's reference patches start: every patch (audio mode) or those with voice
activity (speech mode, an RMS detector on 16-bit frames)."""

from __future__ import annotations

import numpy as np

SPEECH_PATCH_FRAMES = 20
AUDIO_PATCH_FRAMES = 30
VAD_RMS_THRESHOLD = 5000.0
# A frame counts as silent only after this many quiet frames in a row (itself included).
VAD_QUIET_RUN = 3


def image_patch_starts(num_frames: int, width: int = AUDIO_PATCH_FRAMES) -> np.ndarray:
    """Audio mode: a patch every ``width`` frames, the first at ``width // 2 - 1``.

    Raises:
        ValueError: the spectrogram holds fewer than one and a half patches.
    """
    first = width // 2
    if num_frames < width + first:
        raise ValueError(f"the reference spectrogram has {num_frames} frames, fewer than the {width + first} a patch needs")
    end = num_frames - width if first < num_frames - width else first + 1
    return np.arange(first, end, width, dtype=np.int64) - 1


def voiced_patch_starts(reference: np.ndarray, num_frames: int, hop: int, width: int = SPEECH_PATCH_FRAMES) -> np.ndarray:
    """Speech mode: the patches (every ``width`` frames from ``width // 2 - 1``) holding at least
    one voiced hop-long chunk of the peak-normalised reference.

    As in ViSQOL, the chunks are read from sample ``width // 2 - 1`` (a frame index used as a
    sample index), the first two always count as voiced, and a chunk is unvoiced only when it
    and the two before it are quiet (RMS of the 16-bit samples under 5000).
    """
    peak = np.max(reference)
    normalised = np.zeros_like(reference) if peak == 0 else reference / peak
    first = width // 2 - 1
    count = (num_frames - first) // width
    samples = normalised[first : first + count * width * hop]
    pcm = np.trunc(np.clip(samples * float(1 << 15), -float(1 << 15), float((1 << 15) - 1))).astype(np.int16)
    chunks = pcm[: (pcm.shape[0] // hop) * hop].reshape(-1, hop).astype(np.float64)
    quiet = np.sqrt(np.mean(chunks**2, axis=1)) < VAD_RMS_THRESHOLD
    voiced = np.ones(max(chunks.shape[0], VAD_QUIET_RUN - 1), dtype=bool)
    if quiet.shape[0] >= VAD_QUIET_RUN:
        run = quiet[2:] & quiet[1:-1] & quiet[:-2]
        voiced[2:] = ~run
    starts = [first + i * width for i in range(count) if voiced[i * width : (i + 1) * width].any()]
    return np.asarray(starts, dtype=np.int64)
