"""Produce tests/data/funcodec_reference.npz with FunCodec's own code (not part of the test run).

Builds the tiny FunCodec checkpoints that tests/test_funcodec.py builds (same configs, same
seeded weights, FunCodec's key names), loads them into FunCodec's ``Encodec`` model the way
``GANSpeechCodecTask.build_model_from_file`` does, and stores what ``Encodec.inference``
returns (codes and waveform, with the loudness scale) for a few bit widths, and each code's
margin (see tests/reference_codes.py) from the latents FunCodec's quantizer compared.

    python tests/tools/make_funcodec_reference.py /path/to/FunCodec [--einops-site DIR]

See tests/tools/funcodec_upstream.py for how FunCodec's code is imported.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.checkpoints import funcodec_state_dict  # noqa: E402
from tests.reference_codes import FLOAT_NOISE, residual_vq_margins  # noqa: E402
from tests.test_funcodec import PARITY_CASES, REFERENCE_PATH, parity_input  # noqa: E402
from tests.tools.funcodec_upstream import import_funcodec, latents_and_codebooks, load_as_funcodec_does  # noqa: E402


def build_upstream_model(config: dict, seed: int):
    from funcodec.models.codec_basic import Encodec
    from funcodec.models.decoder.seanet_decoder import SEANetDecoder
    from funcodec.models.encoder.seanet_encoder import SEANetEncoder
    from funcodec.models.quantizer.costume_quantizer import CostumeQuantizer

    encoder = SEANetEncoder(input_size=config["input_size"], **config["encoder_conf"])
    quantizer = CostumeQuantizer(input_size=encoder.output_size(), **config["quantizer_conf"])
    decoder = SEANetDecoder(input_size=quantizer.output_size(), **config["decoder_conf"])
    # The multi-spectral mel losses are training-only (and built on CUDA): leave them out.
    model_conf = {**config["model_conf"], "multi_spectral_window_powers_of_two": []}
    model = Encodec(input_size=config["input_size"], encoder=encoder, quantizer=quantizer, decoder=decoder, **model_conf)
    return load_as_funcodec_does(model, funcodec_state_dict(config, seed))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("funcodec", type=Path, help="a FunCodec checkout (the directory holding funcodec/)")
    parser.add_argument("--einops-site", type=Path, default=None)
    args = parser.parse_args()
    import_funcodec(args.funcodec, args.einops_site)

    arrays = {}
    for case in PARITY_CASES:
        model = build_upstream_model(case.config, case.seed)
        speech = parity_input(case)
        arrays[f"{case.name}/input"] = speech
        with torch.no_grad():
            latents, codebooks = latents_and_codebooks(model, torch.from_numpy(speech)[None])
        for bit_width in case.bit_widths:
            with torch.no_grad():
                result = model.inference(torch.from_numpy(speech)[None], need_recon=True, bit_width=bit_width, use_scale=True)
            (codes,) = result["code_indices"]  # [n_q, B, T], one segment
            codes = codes[:, 0, :].numpy()
            margins = residual_vq_margins(latents, codebooks, codes)
            arrays[f"{case.name}/{bit_width}/codes"] = codes.astype(np.int16)
            arrays[f"{case.name}/{bit_width}/margins"] = margins
            arrays[f"{case.name}/{bit_width}/waveform"] = result["recon_speech"][0, 0].numpy().astype(np.float32)
            print(case.name, bit_width, codes.shape[0], "quantizers", result["recon_speech"].shape,
                  f"smallest margin {margins.min():.2g}, {int((margins < FLOAT_NOISE).sum())} below {FLOAT_NOISE:g}")
    np.savez_compressed(REFERENCE_PATH, **arrays)
    print("wrote", REFERENCE_PATH, REFERENCE_PATH.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
