"""The FACodec model: encoder, decoder and optional redecoder, and what they do together.

Encoding needs the encoder (latents) and the decoder checkpoint (quantizers and timbre
encoder); decoding needs the decoder; voice conversion needs the redecoder.

Batches: every method runs a batch of equal-length utterances, each as it would run alone
(upstream's batch-indexed positional table is given row 0 for every item, which is what a
single-utterance call uses). The convolutions do not know about padding, so batching clips of
different lengths by zero-padding changes their results; run those one at a time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from codecbench.codecs.base import CodecNotReadyError
from codecbench.codecs.checkpoint_porting import LoadReport, Skip, load_checkpoint
from codecbench.codecs.facodec.checkpoint import CHECKPOINT_HINT, decoder_skip_list, key_map
from codecbench.codecs.facodec.codes import FactorizedCodes
from codecbench.codecs.facodec.config import (
    CONFIG_FILENAME,
    DECODER_FILENAME,
    ENCODER_FILENAME,
    REDECODER_FILENAME,
    FACodecConfig,
)
from codecbench.codecs.facodec.decoder import FACodecDecoder
from codecbench.codecs.facodec.encoder import FACodecEncoder
from codecbench.codecs.facodec.redecoder import FACodecRedecoder

logger = logging.getLogger(__name__)


class RedecoderMissingError(CodecNotReadyError):
    """Voice conversion was asked of a FACodec loaded without its redecoder."""


@dataclass(frozen=True)
class FACodecEncoding:
    """FACodec's description of a batch of utterances.

    Attributes:
        codes: discrete codes per attribute, ``[B, K, T]`` each.
        timbre: the continuous timbre (speaker) vector ``[B, D]``, one per utterance.
    """

    codes: FactorizedCodes
    timbre: torch.Tensor


def _batch_of_waveforms(waveform: torch.Tensor) -> torch.Tensor:
    if waveform.dim() != 2:
        raise ValueError(f"expected waveforms [batch, samples], got shape {tuple(waveform.shape)}")
    return waveform.unsqueeze(1)


class FACodecModel(nn.Module):
    """FACodec in inference mode. Build with :func:`load_facodec` (or directly, for random weights).

    Args:
        config: the three networks' hyperparameters.
        with_redecoder: build the redecoder (needed for voice conversion only).
        source: where the weights came from, for messages (a model directory).
    """

    def __init__(self, config: FACodecConfig, with_redecoder: bool = True, source: str | None = None):
        super().__init__()
        self.config = config
        self.source = source
        self.encoder = FACodecEncoder(config.encoder)
        self.decoder = FACodecDecoder(config.decoder)
        self.redecoder = FACodecRedecoder(config.redecoder) if with_redecoder else None
        self.eval()

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        """The parameters' type (float32 as published; tests also run float64), which inputs are cast to."""
        return next(self.parameters()).dtype

    def _zero_positions(self, batch_size: int) -> torch.Tensor:
        return torch.zeros(batch_size, dtype=torch.long, device=self.device)

    @torch.inference_mode()
    def encode(self, waveform: torch.Tensor) -> FACodecEncoding:
        """Codes and timbre for 16 kHz waveforms ``[B, N]``; ``T`` frames as the encoder's strided
        convolutions give them (:meth:`FACodecEncoder.num_frames`: ``N // hop``, plus one when
        the remainder is 152 samples or more)."""
        waveform = _batch_of_waveforms(waveform).to(self.device, self.dtype)
        latents = self.encoder(waveform)
        codes = self.decoder.quantize(latents)
        timbre = self.decoder.timbre(latents, batch_positions=self._zero_positions(latents.shape[0]))
        return FACodecEncoding(codes, timbre)

    @torch.inference_mode()
    def decode(self, codes: FactorizedCodes, timbre: torch.Tensor) -> torch.Tensor:
        """Waveforms ``[B, T * hop]`` from codes (any number of residual codebooks) and timbre ``[B, D]``
        (up to a hop longer or shorter than the encoded clip: callers cut or pad)."""
        codes = _to_device(codes, self.device)
        embedding = self.decoder.embed(codes)
        return self.decoder.synthesize(embedding, timbre.to(self.device, self.dtype)).squeeze(1)

    @torch.inference_mode()
    def convert_voice(self, codes: FactorizedCodes, timbre: torch.Tensor) -> torch.Tensor:
        """Speak ``codes``' prosody and content with ``timbre`` ``[B, D]``; waveforms ``[B, T * hop]``.

        As upstream's example, residual (acoustic detail) codes are not used: they carry the
        source speaker's voice.

        Raises:
            RedecoderMissingError: this model was loaded without the redecoder.
        """
        redecoder = self.require_redecoder()
        codes = _to_device(codes.with_residual_codebooks(0), self.device)
        timbre = timbre.to(self.device, self.dtype)
        embedding = redecoder.embed(codes, timbre, batch_positions=self._zero_positions(codes.batch_size))
        return redecoder.synthesize(embedding, timbre).squeeze(1)

    def require_redecoder(self) -> FACodecRedecoder:
        """The redecoder.

        Raises:
            RedecoderMissingError: this model was loaded without it; the message says how to get it.
        """
        if self.redecoder is None:
            where = f" in {self.source}" if self.source else ""
            raise RedecoderMissingError(
                f"voice conversion needs FACodec's redecoder, and there is no {REDECODER_FILENAME}{where}. "
                f"Put {REDECODER_FILENAME} (from https://huggingface.co/amphion/naturalspeech3_facodec) in a "
                f"directory with {ENCODER_FILENAME} and {DECODER_FILENAME} and pass --model-dir DIR."
            )
        return self.redecoder


def _to_device(codes: FactorizedCodes, device: torch.device) -> FactorizedCodes:
    return FactorizedCodes(
        codes.prosody.to(device, torch.long), codes.content.to(device, torch.long), codes.residual.to(device, torch.long)
    )


@dataclass(frozen=True)
class LoadedFACodec:
    """A model loaded from a directory and what loading did (also logged, one line at INFO)."""

    model: FACodecModel
    reports: tuple[LoadReport, ...]


def load_facodec(
    model_dir: Path, device: str | torch.device = "cpu", config: FACodecConfig | None = None
) -> LoadedFACodec:
    """Load FACodec from a directory holding Amphion's checkpoint files.

    ``ns3_facodec_encoder.bin`` and ``ns3_facodec_decoder.bin`` are required;
    ``ns3_facodec_redecoder.bin`` is loaded when present. The architecture is ``config`` when
    given (any ``config.json`` in the directory is then not read), else the directory's
    ``config.json`` (see :mod:`codecbench.codecs.facodec.config`) when present, else the
    published model's settings.

    Raises:
        FileNotFoundError: a required file is missing (the message names it).
        ValueError: a bad ``config.json``;
            :class:`~codecbench.codecs.checkpoint_porting.CheckpointError` for a checkpoint that
            is unreadable or does not fit.
    """
    model_dir = Path(model_dir)
    for filename in (ENCODER_FILENAME, DECODER_FILENAME):
        if not (model_dir / filename).is_file():
            raise FileNotFoundError(
                f"{model_dir} has no {filename}; a FACodec model directory needs {ENCODER_FILENAME} and "
                f"{DECODER_FILENAME} (and {REDECODER_FILENAME} for voice conversion), as in "
                "https://huggingface.co/amphion/naturalspeech3_facodec"
            )
    config_path = model_dir / CONFIG_FILENAME
    if config is None:
        config = FACodecConfig.from_json_file(config_path) if config_path.is_file() else FACodecConfig()
    redecoder_path = model_dir / REDECODER_FILENAME
    model = FACodecModel(config, with_redecoder=redecoder_path.is_file(), source=str(model_dir))
    parts: list[tuple[nn.Module, Path, tuple[Skip, ...]]] = [
        (model.encoder, model_dir / ENCODER_FILENAME, ()),
        (model.decoder, model_dir / DECODER_FILENAME, decoder_skip_list(config.decoder)),
    ]
    if model.redecoder is not None:
        parts.append((model.redecoder, redecoder_path, ()))
    reports = tuple(
        load_checkpoint(module, path, key_map(module), skip=skips, hint=CHECKPOINT_HINT)
        for module, path, skips in parts
    )
    logger.info(
        "loaded FACodec from %s; skipped %d training-only tensors (%d values)",
        model_dir,
        sum(len(report.skipped_keys) for report in reports),
        sum(report.skipped_values for report in reports),
    )
    return LoadedFACodec(model.to(device).eval(), reports)
