"""FreqCodec against FunCodec's own outputs, stored in ``tests/data/freqcodec_funcodec_reference.npz``.

``tests/tools/make_freqcodec_reference.py`` made the reference by running FunCodec's
``FreqCodec.inference`` (FunCodec commit 3435d87, with torchaudio's ``Spectrogram``/
``InverseSpectrogram`` settings for the STFT) on the very checkpoints
:func:`tests.freqcodec_checkpoints.write_funcodec_model_dir` writes for the cases below (same
seeds), and on :func:`reference_input`; FunCodec loaded every encoder, quantizer and decoder key
of those checkpoints. The test rebuilds the checkpoints and expects:

- the same codes, except where FunCodec's choice was within float noise of a tie (the stored
  margins; see :mod:`tests.reference_codes`), and the same loudness scale;
- the same waveform from the reference's codes: within 1e-5 of the peak without weight norm,
  5e-5 with it. Measured on an AMD EPYC (the machine that made the reference) at most 8.7e-7
  of the peak with 1 torch thread and 0.0 with 2 without weight norm, 9.0e-6 with it
  (codecbench folds weight_g/weight_v once, FunCodec recomputes the weight in every call). The
  tiny random models amplify rounding; a porting error is of the order of the signal.
"""

from __future__ import annotations

import dataclasses
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
from tests.reference_codes import assert_codes_match

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
    ReferenceCase("magphase_gr1", "mag_phase", seed=11, bit_widths_bps=(500, 2000, 16000), waveform_atol_of_peak=1e-5),
    ReferenceCase(
        "magangle_causal_weightnorm_snake", "mag_angle", seed=12, bit_widths_bps=(1000, 6000), waveform_atol_of_peak=5e-5,
        sections=(
            ("encoder_conf", _CAUSAL_WEIGHT_NORM_SNAKE),
            ("decoder_conf", (*_CAUSAL_WEIGHT_NORM_SNAKE, ("trim_right_ratio", 0.5))),
        ),
    ),
)


def reference_input() -> np.ndarray:
    """3900 samples at 16 kHz: 50 ms of a quiet noise floor (about -70 dBFS), then speech-like
    audio. 25 STFT frames, an odd count, so the stride-2 convolutions need extra padding.

    Never digital silence: the phase of an all-zero STFT bin is the angle of a signed zero,
    which FFT kernels produce differently on different CPUs (0 on one, pi on another), and in
    the ``mag_angle`` domain that changes the codes. Real recordings always have a floor."""
    floor = (3e-4 * np.random.default_rng(20).standard_normal(800)).astype(np.float32)
    return np.concatenate([floor, speech_like(3100 / 16_000, 16_000, seed=21)])


@pytest.fixture(scope="module")
def reference() -> dict[str, np.ndarray]:
    with np.load(REFERENCE_PATH) as stored:
        return dict(stored)


def test_the_reference_was_made_from_this_input(reference):
    np.testing.assert_array_equal(reference["input"], reference_input())


@pytest.mark.parametrize("case", REFERENCE_CASES, ids=lambda case: case.name)
def test_codes_scale_and_waveform_match_funcodec(tmp_path: Path, reference, case: ReferenceCase):
    directory = write_funcodec_model_dir(tmp_path, case.document(), seed=case.seed)
    model, _ = load_model_dir(directory)
    speech = torch.from_numpy(reference_input())[None]
    for bit_width in case.bit_widths_bps:
        key = f"{case.name}/{bit_width}"
        expected_codes = reference[f"{key}/codes"]
        expected_waveform = reference[f"{key}/waveform"]
        encoded = model.encode(speech, funcodec_quantizers_for_bit_width(case.document(), bit_width))
        assert_codes_match(encoded.codes[0].numpy(), expected_codes, reference[f"{key}/margins"])
        np.testing.assert_allclose(encoded.scale.numpy(), reference[f"{key}/scale"], rtol=1e-6)
        # The decoder is checked on FunCodec's own codes, whatever a near tie did above.
        codes = torch.from_numpy(expected_codes.astype(np.int64))[None]
        decoded = model.decode(FreqCodecCodes(codes, encoded.scale, encoded.num_samples))[0].numpy()
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
    key = f"{case.name}/{bit_width}"
    codec = load_codec("freqcodec", LoadOptions(model_dir=write_funcodec_model_dir(tmp_path, case.document(), seed=case.seed)))
    encoded = codec.encode(reference_input(), 16_000, codec.spec.operating_point(bit_width / 1000))
    assert_codes_match(encoded.payload.codes, reference[f"{key}/codes"], reference[f"{key}/margins"])
    expected_waveform = reference[f"{key}/waveform"]
    payload = dataclasses.replace(encoded.payload, codes=reference[f"{key}/codes"].astype(np.int32))
    decoded = codec.decode(dataclasses.replace(encoded, payload=payload))
    assert decoded.shape == expected_waveform.shape
    peak = float(np.abs(expected_waveform).max())
    np.testing.assert_allclose(decoded, expected_waveform, rtol=0, atol=case.waveform_atol_of_peak * peak)
