"""What every neural token codec shares: tokens as payload, torch inference, batching.

A token codec's payload is its integer codes ``[num_codebooks, num_frames]``, so its measured
bitrate is ``num_codebooks x num_frames x bits_per_token`` over the clip's duration: the nominal
rate, with a last, partial frame paid in full where the model emits one (models whose frames
are centred on the input, like FreqCodec's STFT, emit one frame more; FACodec's encoder drops a
partial frame of fewer than 152 samples; see :meth:`TorchTokenCodec.num_frames`). Every model
encodes the input as upstream's inference does (padded to whole frames only where upstream
pads: DAC), so the codes are upstream's codes for the input as given. Codecs
that normalise their input also send a loudness scale once per clip, counted as side
information (``side_info_bits``), not as bitrate; FACodec sends its timbre vector the same way.

Batching runs several clips through the model at once without changing any clip's result:

- models whose output at a time step depends only on the past (causal convolutions, no
  normalisation over the whole clip) pad a batch with zeros to its longest clip, after padding
  every clip, alone or not, to a whole number of frames. Clips shorter than a few frames are
  the exception: EnCodec's reflect padding then reaches past their end;
- all other models (non-causal convolutions, GroupNorm over time, RMS normalisation) only
  batch clips of the same length, since padding would change every clip's codes.

Clips are sorted by length so that padding stays small, and batches are capped in clips and
in padded samples. On the CPU the cap is one clip: there these convolutional models run no
faster in batches, and often slower (``benchmarks/codec_speed.py``: EnCodec 24 kHz 8.4x real
time batched 16 at a time vs 14x one by one, DAC 16 kHz 1.6x vs 2.4x); on a GPU it is 16.
"""

from __future__ import annotations

import importlib.util
import math
from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from codecbench.codecs.base import Codec, CodecSpec, EncodedAudio, LoadOptions, OperatingPoint, Readiness, TokenPayload


@dataclass(frozen=True)
class BatchLimits:
    """How large one model call may get.

    Args:
        max_clips: clips per call.
        max_samples: clips x padded length (at the codec rate) per call; a longer clip still
            runs, alone.
        max_padding: padding allowed in a padded batch, as a fraction of its real samples.
    """

    max_clips: int = 16
    max_samples: int = 2_000_000
    max_padding: float = 0.25

    def __post_init__(self) -> None:
        if self.max_clips < 1 or self.max_samples < 1 or self.max_padding < 0:
            raise ValueError(f"batch limits must be positive, got {self}")

    @classmethod
    def for_device(cls, device: str) -> BatchLimits:
        """One clip per call on the CPU (fastest there, see the module docstring), 16 on a GPU."""
        return cls(max_clips=1) if device == "cpu" else cls()


def token_operating_points(
    frame_rate_hz: float, codebook_size: int, codebook_counts: Sequence[int]
) -> tuple[OperatingPoint, ...]:
    """Operating points of a residual-VQ codec using the first ``k`` codebooks, for each ``k``."""
    bits = math.ceil(math.log2(codebook_size))
    points = []
    for count in sorted(set(codebook_counts)):
        kbps = count * frame_rate_hz * bits / 1000
        points.append(
            OperatingPoint(
                label=f"{round(kbps, 2):g} kbps",
                nominal_kbps=kbps,
                frame_rate_hz=frame_rate_hz,
                num_codebooks=count,
                codebook_size=codebook_size,
            )
        )
    return tuple(points)


def torch_readiness(options: LoadOptions) -> Readiness:
    """torch and transformers are installed, and the requested device exists.

    Installation is checked without importing (importing both takes seconds, and listing
    codecs should not).
    """
    return _packages_and_device_readiness(("torch", "transformers"), options)


def torch_only_readiness(options: LoadOptions) -> Readiness:
    """torch is installed and the requested device exists: for codecs in plain PyTorch (FACodec, FreqCodec)."""
    return _packages_and_device_readiness(("torch",), options)


def _packages_and_device_readiness(packages: tuple[str, ...], options: LoadOptions) -> Readiness:
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        return Readiness(False, f"{' and '.join(missing)} is not installed.", "Run `pip install -e .` in codecbench.")
    if not options.device.startswith("cuda"):
        return Readiness.ok()
    import torch

    if not torch.cuda.is_available():
        return Readiness(
            False,
            f"--device {options.device} was asked for, but this torch ({torch.__version__}) sees no CUDA GPU.",
            "Use --device cpu, or install a CUDA build of torch (see the README).",
        )
    return Readiness.ok()


def check_model_matches_spec(spec: CodecSpec, frame_rate_hz: float, codebook_size: int, max_codebooks: int, source: str) -> None:
    """Refuse a model whose tokens differ from what the registry entry promises.

    Raises:
        ValueError: naming the mismatch and what the model has.
    """
    for point in spec.operating_points:
        if (
            not math.isclose(point.frame_rate_hz, frame_rate_hz)
            or point.codebook_size != codebook_size
            or point.num_codebooks > max_codebooks
        ):
            raise ValueError(
                f"the model in {source} has {max_codebooks} codebooks of {codebook_size} entries at "
                f"{frame_rate_hz:g} frames/s, but {spec.name} runs {point.label} with {point.num_codebooks} "
                f"codebooks of {point.codebook_size} at {point.frame_rate_hz:g} frames/s. Is it the right model?"
            )


class TorchTokenCodec(Codec):
    """A token codec running a torch model.

    Subclasses set ``self.model`` (a ``torch.nn.Module``) and implement
    :meth:`_encode_batch_tensor` and :meth:`_decode_batch_tensor` on padded tensors; this class
    handles conversion, devices, batching and payloads. Audio and side information reach the
    model in its own float type (float32 as published; float64 where tests need batches and
    single clips to agree beyond float32 rounding, which can flip a code at a near tie).

    Args:
        spec: the codec's spec; every operating point carries its token fields.
        device: torch device string.
        hop_length: input samples per token frame.
        pads_safely: whether zero padding after a clip leaves its codes and decoded samples
            unchanged (causal models without whole-clip normalisation).
        pad_to_frames: pad every clip with zeros to a whole number of frames before encoding
            (what DAC does upstream; what makes causal models batch exactly).
        min_padded_frames: clips with fewer frames are never padded in a batch.
        batch_limits: size caps per model call; by default :meth:`BatchLimits.for_device`.
    """

    def __init__(
        self,
        spec: CodecSpec,
        *,
        device: str,
        hop_length: int,
        pads_safely: bool,
        pad_to_frames: bool,
        min_padded_frames: int = 1,
        batch_limits: BatchLimits | None = None,
    ) -> None:
        if any(point.num_codebooks is None for point in spec.operating_points):
            raise ValueError(f"{spec.name}: token codecs need frame rate, codebooks and codebook size on every operating point")
        self.spec = spec
        self.device = device
        self.hop_length = hop_length
        self.pads_safely = pads_safely
        self.pad_to_frames = pad_to_frames or pads_safely
        self.min_padded_frames = min_padded_frames
        self.batch_limits = batch_limits or BatchLimits.for_device(device)

    # ------------------------------------------------------------------ model calls (subclasses)

    @abstractmethod
    def _encode_batch_tensor(self, audio, num_codebooks: int):
        """Codes ``[B, K, F]`` (long) and side information ``[B, ...]`` (or ``None``) for audio
        ``[B, 1, T]`` on ``self.device``: by default scales ``[B]`` (see :meth:`_payload`)."""

    @abstractmethod
    def _decode_batch_tensor(self, codes, scales):
        """Audio ``[B, T']`` for codes ``[B, K, F]`` and side information ``[B, ...]`` (or ``None``) on ``self.device``."""

    def _payload(self, codes: np.ndarray, side_info: np.ndarray | None) -> TokenPayload:
        """One clip's payload from its codes ``[K, F]`` and its row of the side information
        :meth:`_encode_batch_tensor` returned: by default a loudness scale (a 0-d array)."""
        return TokenPayload(codes=codes, scale=None if side_info is None else float(side_info))

    def _side_info(self, payload: TokenPayload) -> np.ndarray | None:
        """The side information :meth:`_decode_batch_tensor` needs for one clip (the inverse of
        :meth:`_payload`); payloads are batched only with others of the same shape."""
        return None if payload.scale is None else np.asarray(payload.scale, dtype=np.float32)

    # ------------------------------------------------------------------------------ protocol

    def encode(self, samples: np.ndarray, sample_rate_hz: int, operating_point: OperatingPoint) -> EncodedAudio:
        return self.encode_batch([samples], sample_rate_hz, operating_point)[0]

    def decode(self, encoded: EncodedAudio) -> np.ndarray:
        return self.decode_batch([encoded])[0]

    def encode_batch(
        self, clips: Sequence[np.ndarray], sample_rate_hz: int, operating_point: OperatingPoint
    ) -> list[EncodedAudio]:
        import torch

        self._check_operating_point(operating_point)
        if sample_rate_hz != self.spec.sample_rate_hz:
            raise ValueError(f"{self.spec.name} encodes at {self.spec.sample_rate_hz} Hz, not {sample_rate_hz} Hz")
        clips = [np.asarray(clip, dtype=np.float32) for clip in clips]
        if any(clip.ndim != 1 or clip.size == 0 for clip in clips):
            raise ValueError(f"{self.spec.name} encodes mono clips [num_samples], not empty or multichannel arrays")
        for clip in clips:
            self._check_long_enough(clip.shape[0], "a clip")
        input_lengths = [self._input_length(clip.shape[0]) for clip in clips]
        bits = operating_point.bits_per_token
        results: list[EncodedAudio | None] = [None] * len(clips)
        for group in self._groups(input_lengths):
            batch = np.zeros((len(group), 1, max(input_lengths[i] for i in group)), dtype=np.float32)
            for row, index in enumerate(group):
                batch[row, 0, : clips[index].shape[0]] = clips[index]
            with torch.inference_mode():
                codes, scales = self._encode_batch_tensor(
                    torch.from_numpy(batch).to(self.device, self._model_dtype), operating_point.num_codebooks
                )
                codes = codes.cpu().numpy()
                scales = None if scales is None else scales.float().cpu().numpy()
            for row, index in enumerate(group):
                num_frames = self.num_frames(clips[index].shape[0])
                assert codes.shape[1] == operating_point.num_codebooks and codes.shape[2] >= num_frames, codes.shape
                payload = self._payload(
                    codes[row, :, :num_frames].astype(np.int32), None if scales is None else scales[row]
                )
                results[index] = EncodedAudio(
                    payload=payload,
                    payload_bits=payload.num_bits(bits),
                    side_info_bits=payload.side_info_bits,
                    num_samples=clips[index].shape[0],
                    sample_rate_hz=sample_rate_hz,
                    operating_point=operating_point,
                )
        return results  # type: ignore[return-value]

    def decode_batch(self, encoded: Sequence[EncodedAudio]) -> list[np.ndarray]:
        import torch

        payloads = [self._payload_of(item) for item in encoded]
        side_infos = [self._side_info(payload) for payload in payloads]
        results: list[np.ndarray | None] = [None] * len(encoded)
        # Only payloads with the same codebook count and side information shape can share a call.
        kinds: dict[tuple[int, tuple[int, ...] | None], list[int]] = {}
        for index, (payload, side_info) in enumerate(zip(payloads, side_infos)):
            kinds.setdefault((payload.num_codebooks, None if side_info is None else side_info.shape), []).append(index)
        for indices in kinds.values():
            frames = [payloads[i].num_frames for i in indices]
            for group in self._groups([f * self.hop_length for f in frames]):
                members = [indices[g] for g in group]
                num_codebooks = payloads[members[0]].num_codebooks
                codes = np.zeros((len(members), num_codebooks, max(payloads[i].num_frames for i in members)), dtype=np.int64)
                for row, index in enumerate(members):
                    codes[row, :, : payloads[index].num_frames] = payloads[index].codes
                scales = None
                if side_infos[members[0]] is not None:
                    scales = np.stack([side_infos[i] for i in members]).astype(np.float32)
                with torch.inference_mode():
                    audio = self._decode_batch_tensor(
                        torch.from_numpy(codes).to(self.device),
                        None if scales is None else torch.from_numpy(scales).to(self.device, self._model_dtype),
                    )
                    audio = audio.float().cpu().numpy()
                for row, index in enumerate(members):
                    # Cut to the input's length plus the codec's delay (transcode removes the
                    # delay); a decoder that stops short (DAC by a few samples, FACodec by up to
                    # 151) is left short: transcode pads and reports it.
                    item = encoded[index]
                    decoded = audio[row, : item.num_samples + self.delay_samples(item.operating_point)]
                    results[index] = np.ascontiguousarray(decoded, dtype=np.float32)
        return results  # type: ignore[return-value]

    # ------------------------------------------------------------------------------- helpers

    @property
    def _model_dtype(self):
        """The dtype inputs are cast to: the model's first floating-point parameter's (codebook
        indices or buffers may come first), float32 for a model without one."""
        return next((p.dtype for p in self.model.parameters() if p.is_floating_point()), torch_float32())

    def num_frames(self, num_samples: int) -> int:
        """Token frames the model emits for ``num_samples`` of input: one per ``hop_length``
        samples begun. Models with centred frames override it."""
        return math.ceil(num_samples / self.hop_length)

    def _check_long_enough(self, num_samples: int, what: str) -> None:
        """Refuse input the encoder gives no frame for.

        Raises:
            ValueError: naming the length and the codec.
        """
        if self.num_frames(num_samples) < 1:
            rate = self.spec.sample_rate_hz
            raise ValueError(
                f"{what} of {1000 * num_samples / rate:.1f} ms ({num_samples} samples at {self.spec.name}'s {rate} Hz) "
                f"is too short for {self.spec.name}: its encoder gives no frame for it. Give it a longer clip."
            )

    def _input_length(self, num_samples: int) -> int:
        if not self.pad_to_frames:
            return num_samples
        return math.ceil(num_samples / self.hop_length) * self.hop_length

    def _groups(self, lengths: Sequence[int]) -> list[list[int]]:
        """Indices into ``lengths`` grouped into model calls (see the module docstring)."""
        limits = self.batch_limits

        def paddable(length: int) -> bool:
            return self.pads_safely and length >= self.min_padded_frames * self.hop_length

        order = sorted(range(len(lengths)), key=lambda i: (paddable(lengths[i]), lengths[i]))
        groups: list[list[int]] = []
        for index in order:
            current = groups[-1] if groups else None
            if current is not None:
                padded = (len(current) + 1) * lengths[index]  # sorted: this clip is the longest
                real = sum(lengths[i] for i in current) + lengths[index]
                same_length = lengths[current[0]] == lengths[index]
                fits = (
                    len(current) < limits.max_clips
                    and padded <= limits.max_samples
                    and (same_length or paddable(lengths[current[0]]) and padded <= (1 + limits.max_padding) * real)
                )
                if fits:
                    current.append(index)
                    continue
            groups.append([index])
        return groups

    def _check_operating_point(self, operating_point: OperatingPoint) -> None:
        if operating_point not in self.spec.operating_points:
            raise ValueError(
                f"{self.spec.name} does not run at {operating_point.label}; choose one of {self.spec.describe_bitrates()}."
            )

    def _payload_of(self, encoded: EncodedAudio) -> TokenPayload:
        payload = encoded.payload
        if not isinstance(payload, TokenPayload):
            raise ValueError(f"{self.spec.name} decodes token payloads, not {type(payload).__name__}")
        self._check_operating_point(encoded.operating_point)
        if payload.num_codebooks != encoded.operating_point.num_codebooks:
            raise ValueError(
                f"payload has {payload.num_codebooks} codebooks but {encoded.operating_point.label} uses "
                f"{encoded.operating_point.num_codebooks}"
            )
        if payload.codes.size and (payload.codes.min() < 0 or payload.codes.max() >= encoded.operating_point.codebook_size):
            raise ValueError(f"payload codes fall outside 0..{encoded.operating_point.codebook_size - 1}")
        return payload


def torch_float32():
    import torch

    return torch.float32
