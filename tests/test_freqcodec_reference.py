"""FreqCodec against FunCodec's own outputs, stored in ``tests/data/freqcodec_funcodec_reference.npz``.

The reference was made by running FunCodec's ``FreqCodec.inference`` (FunCodec commit 3435d87,
with torchaudio's ``Spectrogram``/``InverseSpectrogram`` transcribed for the STFT) on the very
checkpoints :func:`tests.freqcodec_checkpoints.write_funcodec_model_dir` writes for the cases below
(same seeds), and on :func:`reference_input`. FunCodec loaded every encoder, quantizer and decoder
key of those checkpoints. The test rebuilds the checkpoints and expects the same codes and
loudness scale, and the same waveforms: within 1e-6 of the peak without weight norm (measured
difference 0.0 here; the margin is for other CPUs' float kernels), within 1e-5 of the peak with it (measured at most 5.5e-6 of the peak; codecbench folds
weight_g/weight_v once, FunCodec recomputes the weight in every call).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from codecbench.codecs.freqcodec import FreqCodecCodes
from codecbench.synthetic import speech_like
from tests.freqcodec_checkpoints import (
    freqcodec_config_document,
    funcodec_quantizers_for_bit_width,
    load_model_dir,
    write_funcodec_model_dir,
)

REFERENCE_PATH = Path(__file__).parent / "data" / "freqcodec_funcodec_reference.npz"


@dataclass(frozen=True)
class ReferenceCase:
    name: str
    domain: str
    seed: int
    bit_widths_bps: tuple[int, ...]
    waveform_atol_of_peak: float
    sections: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()

    def document(self) -> dict[str, Any]:
        return freqcodec_config_document(self.domain, **{section: dict(items) for section, items in self.sections})


_CAUSAL_WEIGHT_NORM_SNAKE = (("norm", "weight_norm"), ("norm_params", {}), ("causal", True), ("activation", "snake"))
REFERENCE_CASES = (
    ReferenceCase("magphase_gr1", "mag_phase", seed=11, bit_widths_bps=(500, 2000, 16000), waveform_atol_of_peak=1e-6),
    ReferenceCase(
        "magangle_causal_weightnorm_snake", "mag_angle", seed=12, bit_widths_bps=(1000, 6000), waveform_atol_of_peak=1e-5,
        sections=(
            ("encoder_conf", _CAUSAL_WEIGHT_NORM_SNAKE),
            ("decoder_conf", (*_CAUSAL_WEIGHT_NORM_SNAKE, ("trim_right_ratio", 0.5))),
        ),
    ),
)


def reference_input() -> np.ndarray:
    """3900 samples at 16 kHz: 50 ms of digital silence (exercising the log-magnitude floor), then
    speech-like audio. 25 STFT frames, an odd count, so the stride-2 convolutions need extra padding."""
    silence = np.zeros(800, dtype=np.float32)
    return np.concatenate([silence, speech_like(3100 / 16_000, 16_000, seed=21)])


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE_PATH) as stored:
        return dict(stored)


@pytest.mark.parametrize("case", REFERENCE_CASES, ids=lambda case: case.name)
def test_codes_scale_and_waveform_match_funcodec(tmp_path: Path, reference, case: ReferenceCase):
    directory = write_funcodec_model_dir(tmp_path, case.document(), seed=case.seed)
    model, _ = load_model_dir(directory)
    speech = torch.from_numpy(reference_input())[None]
    for bit_width in case.bit_widths_bps:
        expected_codes = reference[f"{case.name}/{bit_width}/codes"]
        expected_waveform = reference[f"{case.name}/{bit_width}/waveform"]
        encoded = model.encode(speech, funcodec_quantizers_for_bit_width(case.document(), bit_width))
        np.testing.assert_array_equal(encoded.codes[0].numpy(), expected_codes)
        np.testing.assert_allclose(encoded.scale.numpy(), reference[f"{case.name}/{bit_width}/scale"], rtol=1e-6)
        decoded = model.decode(FreqCodecCodes(encoded.codes, encoded.scale, encoded.num_samples))[0].numpy()
        assert decoded.shape == expected_waveform.shape
        peak = float(np.abs(expected_waveform).max())
        np.testing.assert_allclose(decoded, expected_waveform, rtol=0, atol=case.waveform_atol_of_peak * peak)


@pytest.mark.parametrize(
    ("case_name", "bit_width"),
    [("magphase_gr1", 500), ("magphase_gr1", 16000), ("magangle_causal_weightnorm_snake", 1000)],
)
def test_the_freqcodec_codec_gives_funcodecs_codes_and_audio(tmp_path: Path, reference, codecbench_home, case_name, bit_width):
    """The path users take (registry, ``--model-dir``, payload, decode from the payload) at FunCodec's bit widths."""
    from codecbench.codecs import LoadOptions, load_codec

    case = next(case for case in REFERENCE_CASES if case.name == case_name)
    codec = load_codec("freqcodec", LoadOptions(model_dir=write_funcodec_model_dir(tmp_path, case.document(), seed=case.seed)))
    encoded = codec.encode(reference_input(), 16_000, codec.spec.operating_point(bit_width / 1000))
    np.testing.assert_array_equal(encoded.payload.codes, reference[f"{case.name}/{bit_width}/codes"])
    expected_waveform = reference[f"{case.name}/{bit_width}/waveform"]
    decoded = codec.decode(encoded)
    assert decoded.shape == expected_waveform.shape
    peak = float(np.abs(expected_waveform).max())
    np.testing.assert_allclose(decoded, expected_waveform, rtol=0, atol=case.waveform_atol_of_peak * peak)
