"""Neural codec speed on CPU, with full-size architectures and random weights.

Random weights cost exactly what trained ones cost, so no download is needed. For each codec
this prints:

1. the real-time factor (processing time / audio duration) of encode + decode of one clip
   (10 s by default) at the codec's lowest and highest operating point, through codecbench,
   and the compute behind it: multiply-accumulates (MACs) per second of audio of the bare
   model's encode + decode, counted by torch's FLOP counter (convolutions, matrix products;
   a MAC is 2 FLOPs) plus the LSTMs, which it does not see on the CPU, from their sizes; the
   STFT and element-wise work are left out;
2. codecbench's overhead over a bare model call (the same encode + decode straight on the
   torch model, no numpy conversion, payloads or checks), at the highest operating point
   (target <= 5 %);
3. throughput of 16 clips encoded + decoded one by one vs with ``encode_batch`` /
   ``decode_batch`` allowed 16 clips per call (what codecbench does on a GPU; on the CPU it
   runs one clip per call, which these figures justify), for clips of different lengths
   (2-10 s, as in a test set) and of one length (4 s, as in segmented data);
4. memory: the resident set size of a fresh process after importing codecbench and torch,
   after loading the codec, and at its peak while encoding + decoding one clip at the highest
   operating point.

    python benchmarks/codec_speed.py [--codecs encodec_24khz,freqcodec_example,facodec] [--repeats 3] [--clip-s 10]
                                     [--batch-clips 16 (0 skips part 3)] [--threads N]

FACodec's random checkpoint has the published file layout, the decoder's training-only heads
included (73.5 M values, 65 M of them the speaker classifier); codecbench skips them while
loading, so they cost neither time nor memory.

Every figure is the best of ``--repeats`` runs, the variants compared taking turns, so that
other work on the machine slows them alike and is left out as far as possible.

FreqCodec is timed next to FunCodec's EnCodec-type model of the same frame rate
(``funcodec_en_libritts_16k_nq32ds320``, 50 frames/s), to check the FunCodec paper's claim that
it needs far less compute. The published FreqCodec configs could not be read here (the Hub is
out of reach), so these are FunCodec's example config
(``egs/LibriTTS/codec/conf/freqcodec_mag_phase_16k_n32_600k_step.yaml``, ``freqcodec_example``,
16.2 M parameters) and that config with ``conv_group_ratio`` and ``tr_conv_group_ratio`` 8 or 1
(``freqcodec_example_gr8``, ``freqcodec_example_gr1``).

The gr8/gr1 variants are NOT the published gr8/gr1 models and do not have their sizes: they have
9.9 M and 9.4 M parameters, where FunCodec lists the published models at 4.50 M and 0.52 M, so
the published ones use settings FunCodec's example config does not show, and their speed is
not measured here. Each codec's line prints its parameter count (codebooks excluded) so the
difference stays visible.

Adding a codec is one :class:`BenchCodec` in :data:`CODECS`: a function that writes
full-size random weights in its upstream format, and the bare encode + decode it wraps.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from codecbench.codecs import LoadOptions, load_codec  # noqa: E402
from codecbench.codecs.token_codec import BatchLimits  # noqa: E402
from codecbench.synthetic import speech_like  # noqa: E402
from tests.checkpoints import funcodec_config, save_funcodec_model  # noqa: E402
from tests.freqcodec_checkpoints import example_config_document, write_funcodec_model_dir  # noqa: E402


@dataclass(frozen=True)
class BenchCodec:
    """A registry codec to time.

    Args:
        name: what the benchmark calls it (``--codecs``); the registry name unless
            ``registry_name`` is given.
        write_weights: writes full-size random weights, in the upstream format, to a directory.
        bare_call: encode + decode of a ``[1, 1, T]`` tensor at ``num_codebooks`` straight on
            the loaded codec's torch model.
        registry_name: the codec loaded (with ``--model-dir`` pointing at the random weights).
    """

    name: str
    write_weights: Callable[[Path], None]
    bare_call: Callable[[object, torch.Tensor, int], torch.Tensor]
    registry_name: str | None = None


def _write_encodec_24khz(directory: Path) -> None:
    from transformers import EncodecConfig, EncodecModel

    model = EncodecModel(EncodecConfig())  # facebook/encodec_24khz's architecture
    with torch.no_grad():
        for layer in model.quantizer.layers:
            layer.codebook.embed.normal_()
    model.save_pretrained(directory)


def _write_funcodec(ratios: tuple[int, ...]) -> Callable[[Path], None]:
    def write(directory: Path) -> None:
        save_funcodec_model(directory, funcodec_config(ratios=ratios, n_filters=32, dimension=128))

    return write


def _write_dac(ratios: list[int], n_codebooks: int) -> Callable[[Path], None]:
    def write(directory: Path) -> None:
        from transformers import DacConfig, DacModel

        DacModel(DacConfig(downsampling_ratios=ratios, n_codebooks=n_codebooks)).save_pretrained(directory)

    return write


def _write_facodec(directory: Path) -> None:
    """The published architecture with random weights, as Amphion's three files."""
    from codecbench.codecs.facodec import DECODER_FILENAME, ENCODER_FILENAME, REDECODER_FILENAME, FACodecConfig
    from codecbench.codecs.facodec.checkpoint import decoder_training_only_prefixes, upstream_state_dict
    from codecbench.codecs.facodec.model import FACodecModel

    model = FACodecModel(FACodecConfig())
    directory.mkdir(parents=True, exist_ok=True)
    torch.save(upstream_state_dict(model.encoder), directory / ENCODER_FILENAME)
    # The training-only heads at their published shapes (tests/data/facodec_published_layout.json).
    layout = json.loads((ROOT / "tests" / "data" / "facodec_published_layout.json").read_text())["decoder"]
    skipped = decoder_training_only_prefixes(model.config.decoder)
    heads = {key: 0.01 * torch.randn(shape) for key, shape in layout.items() if key.startswith(skipped)}
    torch.save({**upstream_state_dict(model.decoder), **heads}, directory / DECODER_FILENAME)
    torch.save(upstream_state_dict(model.redecoder), directory / REDECODER_FILENAME)


def _bare_facodec(codec, audio: torch.Tensor, num_codebooks: int) -> torch.Tensor:
    model, decoder = codec.model, codec.config.decoder
    encoding = model.encode(audio[:, 0])
    residual = num_codebooks - decoder.vq_num_q_p - decoder.vq_num_q_c
    return model.decode(encoding.codes.with_residual_codebooks(residual), encoding.timbre)


def _write_freqcodec(conv_group_ratio: int) -> Callable[[Path], None]:
    def write(directory: Path) -> None:
        write_funcodec_model_dir(directory, example_config_document(conv_group_ratio))

    return write


def _bare_freqcodec(codec, audio: torch.Tensor, num_codebooks: int) -> torch.Tensor:
    return codec.model.decode(codec.model.encode(audio[:, 0, :], num_codebooks))


def _bare_encodec(codec, audio: torch.Tensor, num_codebooks: int) -> torch.Tensor:
    model = codec.model
    encoded = model.encode(audio, bandwidth=codec._bandwidth_for[num_codebooks])
    return model.decode(encoded.audio_codes, encoded.audio_scales).audio_values


def _bare_dac(codec, audio: torch.Tensor, num_codebooks: int) -> torch.Tensor:
    codes = codec.model.encode(audio, n_quantizers=num_codebooks).audio_codes
    return codec.model.decode(audio_codes=codes).audio_values


CODECS = (
    BenchCodec("encodec_24khz", _write_encodec_24khz, _bare_encodec),
    BenchCodec("funcodec_en_libritts_16k_nq32ds640", _write_funcodec((8, 5, 4, 2, 2)), _bare_encodec),
    BenchCodec("funcodec_en_libritts_16k_nq32ds320", _write_funcodec((8, 5, 4, 2)), _bare_encodec),
    BenchCodec("freqcodec_example", _write_freqcodec(-1), _bare_freqcodec, "freqcodec"),
    BenchCodec("freqcodec_example_gr8", _write_freqcodec(8), _bare_freqcodec, "freqcodec"),
    BenchCodec("freqcodec_example_gr1", _write_freqcodec(1), _bare_freqcodec, "freqcodec"),
    BenchCodec("dac_16khz", _write_dac([2, 4, 5, 8], 12), _bare_dac),
    BenchCodec("dac_24khz", _write_dac([2, 4, 5, 8], 32), _bare_dac),
    BenchCodec("dac_44khz", _write_dac([2, 4, 8, 8], 9), _bare_dac),
    BenchCodec("facodec", _write_facodec, _bare_facodec),
)


def _best_s(*works: Callable[[], object], repeats: int) -> list[float]:
    """Best wall-clock time of each of ``works``, running them in turn ``repeats`` times."""
    best = [float("inf")] * len(works)
    for _ in range(repeats):
        for index, work in enumerate(works):
            started = time.perf_counter()
            work()
            best[index] = min(best[index], time.perf_counter() - started)
    return best


def _gmacs_per_audio_second(work: Callable[[], object], model: torch.nn.Module, audio_s: float) -> float:
    """Billions of multiply-accumulates ``work`` does per second of audio (see the module docstring)."""
    from torch.utils.flop_counter import FlopCounterMode

    lstm_macs = 0

    def count_lstm(module: torch.nn.LSTM, inputs, output) -> None:
        nonlocal lstm_macs
        steps = inputs[0].shape[0] * inputs[0].shape[1]  # time x batch, in either layout
        directions = 2 if module.bidirectional else 1
        for layer in range(module.num_layers):
            width = module.input_size if layer == 0 else module.hidden_size * directions
            lstm_macs += steps * directions * 4 * module.hidden_size * (width + module.hidden_size)

    hooks = [m.register_forward_hook(count_lstm) for m in model.modules() if isinstance(m, torch.nn.LSTM)]
    try:
        with FlopCounterMode(display=False) as counter:
            work()
    finally:
        for hook in hooks:
            hook.remove()
    return (counter.get_total_flops() / 2 + lstm_macs) / audio_s / 1e9


def bench(entry: BenchCodec, weights_root: Path, clip_s: float, repeats: int, batch_clips: int) -> None:
    model_dir = weights_root / entry.name
    entry.write_weights(model_dir)
    codec = load_codec(entry.registry_name or entry.name, LoadOptions(model_dir=model_dir))
    rate = codec.spec.sample_rate_hz
    clip = speech_like(clip_s, rate, seed=1)
    lowest, highest = codec.spec.operating_points[0], codec.spec.operating_points[-1]
    params_m = sum(p.numel() for p in codec.model.parameters()) / 1e6
    print(f"\n{entry.name}  ({params_m:.1f} M parameters, {rate} Hz, {clip_s:g} s clip)")

    def codecbench_call(point):
        return lambda: codec.decode(codec.encode(clip, rate, point))

    codec.decode(codec.encode(clip, rate, lowest))  # warm-up
    for point, seconds in zip((lowest, highest), _best_s(codecbench_call(lowest), codecbench_call(highest), repeats=repeats)):
        print(f"  RTF encode+decode at {point.label:>10}: {seconds / clip_s:.3f}  ({seconds:.2f} s)")

    tensor = torch.from_numpy(clip)[None, None]
    counted_s = min(clip_s, 2.0)  # compute grows with duration; a short clip keeps counting quick
    counted = tensor[..., : round(counted_s * rate)]
    for point in (lowest, highest):
        def bare_at_point(point=point):
            with torch.inference_mode():
                entry.bare_call(codec, counted, point.num_codebooks)

        gmacs = _gmacs_per_audio_second(bare_at_point, codec.model, counted_s)
        print(f"  compute at {point.label:>10}: {gmacs:.2f} GMAC per second of audio")

    def bare():
        with torch.inference_mode():
            entry.bare_call(codec, tensor, highest.num_codebooks)

    ours, theirs = _best_s(codecbench_call(highest), bare, repeats=repeats)
    print(f"  overhead over the bare model call at {highest.label}: {100 * (ours / theirs - 1):+.1f} %  "
          f"({ours:.3f} s vs {theirs:.3f} s)")

    rng = np.random.default_rng(0)
    for kind, lengths_s in () if batch_clips == 0 else (
        ("different lengths (2-10 s)", rng.uniform(2.0, 10.0, batch_clips)),
        ("one length (4 s)", np.full(batch_clips, 4.0)),
    ):
        clips = [speech_like(float(s), rate, seed=i) for i, s in enumerate(lengths_s)]
        total_s = float(sum(lengths_s))

        def one_by_one(clips=clips):
            for item in clips:
                codec.decode(codec.encode(item, rate, highest))

        def batched(clips=clips):
            codec.batch_limits = BatchLimits(max_clips=16)
            try:
                codec.decode_batch(codec.encode_batch(clips, rate, highest))
            finally:
                codec.batch_limits = BatchLimits.for_device(codec.device)

        single_s, batch_s = _best_s(one_by_one, batched, repeats=max(1, repeats - 1))
        print(f"  {batch_clips} clips, {kind}: one by one {total_s / single_s:.1f} x real time, "
              f"batched {total_s / batch_s:.1f} x real time ({single_s / batch_s:.2f} x faster)")
    load_codec.cache_clear()
    codec = None  # free the model before the memory of a fresh process is measured

    memory = json.loads(subprocess.run(
        [sys.executable, __file__, "--measure-memory", entry.registry_name or entry.name, str(model_dir), str(clip_s),
         str(torch.get_num_threads())],
        capture_output=True, text=True, check=True, env=os.environ,
    ).stdout)
    print(f"  memory of a fresh process: {memory['imported_mb']:.0f} MB after imports, {memory['loaded_mb']:.0f} MB "
          f"after loading ({memory['parameters_mb']:.0f} MB of parameters), peak {memory['peak_mb']:.0f} MB "
          f"encoding + decoding {clip_s:g} s at {highest.label}")


def _status_mb(field: str) -> float:
    """A memory figure of this process from /proc (``VmRSS``: now; ``VmHWM``: its peak since exec,
    unlike ``ru_maxrss``, which a child inherits from the process it was forked from)."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith(f"{field}:")) / 1024


def measure_memory(name: str, model_dir: Path, clip_s: float) -> dict[str, float]:
    """Resident memory (MB) of this process around loading ``name`` and one encode + decode."""
    imported = _status_mb("VmRSS")
    codec = load_codec(name, LoadOptions(model_dir=model_dir))
    loaded = _status_mb("VmRSS")
    rate = codec.spec.sample_rate_hz
    codec.decode(codec.encode(speech_like(clip_s, rate, seed=1), rate, codec.spec.operating_points[-1]))
    return {
        "imported_mb": imported,
        "loaded_mb": loaded,
        "parameters_mb": sum(p.numel() * p.element_size() for p in codec.model.parameters()) / 2**20,
        "peak_mb": _status_mb("VmHWM"),
    }


def main() -> None:
    if sys.argv[1:2] == ["--measure-memory"]:  # the child process of part 4
        name, model_dir, clip_s, threads = sys.argv[2:6]
        torch.set_num_threads(int(threads))
        print(json.dumps(measure_memory(name, Path(model_dir), float(clip_s))))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--codecs", default=",".join(entry.name for entry in CODECS))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clip-s", type=float, default=10.0)
    parser.add_argument("--batch-clips", type=int, default=16)
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    wanted = args.codecs.split(",")
    unknown = set(wanted) - {entry.name for entry in CODECS}
    if unknown:
        parser.error(f"no benchmark for {', '.join(sorted(unknown))}; choose from {', '.join(e.name for e in CODECS)}")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, CPU")
    with tempfile.TemporaryDirectory() as home:
        os.environ["CODECBENCH_HOME"] = home  # conversions go to a scratch home
        for entry in CODECS:
            if entry.name in wanted:
                bench(entry, Path(home) / "weights", args.clip_s, args.repeats, args.batch_clips)


if __name__ == "__main__":
    main()
