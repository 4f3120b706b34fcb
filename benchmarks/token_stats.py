"""What token statistics cost next to the codec that made the tokens (goal: at most 5 %).

For each codec (full-size architectures with random weights, as ``codec_speed.py`` builds them:
random weights cost exactly what trained ones do) at its lowest and highest operating point,
on one clip (10 s of real English speech from ``../shared/speech`` by default), this prints
the best of ``--repeats`` timings of:

- the codec: resample + encode + decode through :func:`codecbench.codecs.transcode`, what an
  evaluation runs per unit;
- the counts: :class:`~codecbench.tokens.counts.StreamCounts` of every stream (unigram and the
  two pair tables per codebook);
- the coding: :func:`~codecbench.tokens.coder.encode_codes` and
  :func:`~codecbench.tokens.coder.decode_codes` of every stream (what
  :func:`~codecbench.tokens.statistics.measure_tokens` does besides counting);

and their share of the codec's time. The figures of the random models' codes (entropy-coded
kbps) are printed too but say nothing about trained models.

    python benchmarks/token_stats.py [--codecs encodec_24khz,dac_16khz,facodec] [--clip PATH] [--clip-s 10]
                                     [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from codec_speed import CODECS  # noqa: E402

from codecbench.audio import Audio, load_audio  # noqa: E402
from codecbench.codecs import LoadOptions, load_codec, transcode  # noqa: E402
from codecbench.tokens.coder import decode_codes, encode_codes  # noqa: E402
from codecbench.tokens.counts import StreamCounts  # noqa: E402
from codecbench.tokens.statistics import code_streams, measure_tokens, token_report  # noqa: E402

DEFAULT_CODECS = "encodec_24khz,funcodec_en_libritts_16k_nq32ds320,dac_16khz,dac_44khz,facodec"
DEFAULT_CLIP = ROOT.parent / "shared" / "speech" / "en" / "en_ls_1088-134315-0000.wav"


def _best_s(work: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - started)
    return best


def _clip(path: Path | None, seconds: float) -> Audio:
    if path is None or not path.exists():
        from codecbench.synthetic import speech_like

        print(f"(no clip at {path}: using {seconds:g} s of generated speech-like audio)")
        return Audio(speech_like(seconds, 16000, seed=1), 16000)
    audio = load_audio(path)
    keep = min(audio.num_samples, round(seconds * audio.sample_rate_hz))
    return Audio(audio.samples[:keep], audio.sample_rate_hz)


def bench(name: str, registry_name: str, model_dir: Path, audio: Audio, repeats: int) -> list[float]:
    """Print one codec's rows; returns the shares (%) of statistics + coding in the codec's time."""
    codec = load_codec(registry_name, LoadOptions(model_dir=model_dir))
    shares = []
    for point in (codec.spec.operating_points[0], codec.spec.operating_points[-1]):
        result = transcode(codec, audio, point)  # warm-up (and the numba functions' first call)
        measure_tokens(result.encoded)
        streams = code_streams(result.encoded.payload)
        size = point.codebook_size
        codec_s = _best_s(lambda point=point: transcode(codec, audio, point), repeats)

        def counts(streams=streams, size=size) -> None:
            for stream, codes in streams:
                StreamCounts.from_codes(stream, codes, size)

        def coding(streams=streams, size=size) -> None:
            for _, codes in streams:
                coded = encode_codes(codes, size)
                decode_codes(coded.data, codes.shape[0], codes.shape[1], size)

        counts_s, coding_s = _best_s(counts, repeats), _best_s(coding, repeats)
        tokens = sum(codes.size for _, codes in streams)
        share = 100 * (counts_s + coding_s) / codec_s
        shares.append(share)
        report = token_report([measure_tokens(result.encoded)])
        print(f"  {name:<36} {point.label:>10} {tokens:>7} {codec_s * 1000:>9.1f} {counts_s * 1000:>9.2f} "
              f"{coding_s * 1000:>9.2f} {share:>7.2f} %   {report.entropy_coded_kbps:>6.2f} of "
              f"{report.measured_kbps:.2f} kbps")
    load_codec.cache_clear()
    return shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codecs", default=DEFAULT_CODECS)
    parser.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    parser.add_argument("--clip-s", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    by_name = {entry.name: entry for entry in CODECS}
    wanted = args.codecs.split(",")
    unknown = sorted(set(wanted) - set(by_name))
    if unknown:
        parser.error(f"no benchmark for {', '.join(unknown)}; choose from {', '.join(by_name)}")
    audio = _clip(args.clip, args.clip_s)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU; clip {audio.num_samples / audio.sample_rate_hz:.1f} s")
    print(f"  {'codec':<36} {'point':>10} {'tokens':>7} {'codec ms':>9} {'counts ms':>9} {'coding ms':>9} "
          f"{'share':>9}   entropy-coded (random weights)")
    shares = []
    with tempfile.TemporaryDirectory() as weights_root:
        for name in wanted:
            entry = by_name[name]
            model_dir = Path(weights_root) / name
            entry.write_weights(model_dir)
            shares += bench(name, entry.registry_name or name, model_dir, audio, args.repeats)
    print(f"statistics + coding as a share of the codec's time: median {sorted(shares)[len(shares) // 2]:.2f} %, "
          f"largest {max(shares):.2f} % (goal <= 5 %)")


if __name__ == "__main__":
    main()
