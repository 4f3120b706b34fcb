"""How loud the per-stimulus dither of MUSHRA stimuli is, and what it changes in objective scores.

Each served stimulus carries its own one-LSB TPDF dither (codecbench/listening_test/dither.py),
so that the hidden reference is not the open reference's bytes. For real clips brought to the
MUSHRA loudness (-23 LUFS) and encoded as the app stores them (16-bit WAV), this prints the
dither's level in dBFS and below the clip's loudness, and, for the hidden reference and two
codecs, ViSQOL (speech) and PESQ-WB against the reference without dither and with dither on
both sides (as a participant hears them).

    python benchmarks/mushra_dither.py [--speech-dir ../shared/speech] [--clips 8]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import numpy as np
import soundfile

from codecbench.audio import Audio, fit_length, load_audio, loudness_lufs, normalize_loudness
from codecbench.codecs import load_codec, transcode
from codecbench.evaluation.metrics import score_pair
from codecbench.listening_test.dither import dithered_wav
from codecbench.listening_test.stimuli import encode_wav

DEFAULT_SPEECH_DIR = Path(__file__).resolve().parents[2] / "shared/speech"
CLIP_S = 8.0
TARGET_LUFS = -23.0
CONDITIONS = (("hidden reference", None, None), ("opus", "opus", 6.0), ("codec2", "codec2", 3.2))


def decoded(wav: bytes) -> np.ndarray:
    samples, _ = soundfile.read(io.BytesIO(wav), dtype="float32")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--speech-dir", type=Path, default=DEFAULT_SPEECH_DIR)
    parser.add_argument("--clips", type=int, default=8)
    args = parser.parse_args()
    paths = sorted(p for p in args.speech_dir.rglob("*") if p.suffix in (".wav", ".flac"))[: args.clips]
    print(f"{len(paths)} clips of up to {CLIP_S:g} s at {TARGET_LUFS:g} LUFS, 16-bit WAV as stored")
    print(f"{'clip':34} {'condition':17} {'dither dBFS':>11} {'below LUFS':>10} {'ViSQOL':>15} {'PESQ-WB':>15}")
    deltas: dict[str, list[float]] = {"visqol": [], "pesq_wb": []}
    for path in paths:
        audio = load_audio(path)
        rate = audio.sample_rate_hz
        clip = normalize_loudness(audio.samples[: int(CLIP_S * rate)], rate, TARGET_LUFS)
        reference_wav = encode_wav(clip, rate)
        reference = decoded(reference_wav)
        heard_reference = decoded(dithered_wav(reference_wav, f"{path}:reference"))
        for label, codec_name, kbps in CONDITIONS:
            if codec_name is None:
                stimulus_wav = reference_wav
            else:
                codec = load_codec(codec_name)
                result = transcode(codec, Audio(samples=clip, sample_rate_hz=rate), codec.spec.operating_point(kbps))
                stimulus_wav = encode_wav(fit_length(result.samples, clip.shape[0]), rate)
            stimulus = decoded(stimulus_wav)
            heard = decoded(dithered_wav(stimulus_wav, f"{path}:{label}"))
            dither = heard - stimulus
            dither_db = 10 * np.log10(np.mean(dither.astype(np.float64) ** 2))
            below = loudness_lufs(stimulus, rate) - dither_db
            plain = {r.metric: r.value for r in score_pair((reference, rate), (stimulus, rate), ["visqol", "pesq"])}
            dithered = {r.metric: r.value for r in score_pair((heard_reference, rate), (heard, rate), ["visqol", "pesq"])}
            cells = []
            for name in ("visqol", "pesq_wb"):
                if plain.get(name) is None or dithered.get(name) is None:
                    cells.append(f"{'n/a':>15}")
                    continue
                deltas[name].append(dithered[name] - plain[name])
                cells.append(f"{plain[name]:6.3f}→{dithered[name]:6.3f}".rjust(15))
            print(f"{path.name[:34]:34} {label:17} {dither_db:11.1f} {below:10.1f} {cells[0]} {cells[1]}")
    for name, values in deltas.items():
        if values:
            values_array = np.abs(np.array(values))
            print(f"{name}: mean |Δ| {values_array.mean():.4f}, max |Δ| {values_array.max():.4f} over {len(values)} pairs")


if __name__ == "__main__":
    main()
