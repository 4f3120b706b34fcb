"""Produce tests/data/freqcodec_funcodec_reference.npz with FunCodec's own FreqCodec (not part of the test run).

Writes the tiny FreqCodec model directories tests/test_freqcodec_reference.py writes (same
config documents, same seeded weights, FunCodec's key names), builds FunCodec's ``FreqCodec``
from each ``config.yaml`` the way ``GANSpeechCodecTask.build_model`` does (the discriminator
left out: training only), loads ``model.pth`` the way ``build_model_from_file`` does, and
stores what ``FreqCodec.inference(bit_width=..., use_scale=True)`` returns for the reference
input (codes, loudness scale, waveform), and each code's margin (see tests/reference_codes.py).

    python tests/tools/make_freqcodec_reference.py /path/to/FunCodec [--einops-site DIR]

Made from FunCodec commit 3435d87. See tests/tools/funcodec_upstream.py for how FunCodec's
code is imported and for the STFT it runs in place of torchaudio's.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
import yaml

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.freqcodec_checkpoints import write_funcodec_model_dir  # noqa: E402
from tests.reference_codes import FLOAT_NOISE, residual_vq_margins  # noqa: E402
from tests.test_freqcodec_reference import REFERENCE_CASES, REFERENCE_PATH, reference_input  # noqa: E402
from tests.tools.funcodec_upstream import import_funcodec, latents_and_codebooks, load_as_funcodec_does  # noqa: E402


def build_upstream_model(directory: Path):
    from funcodec.models.codec_freq import FreqCodec
    from funcodec.models.decoder.seanet_decoder import SEANetDecoder2d
    from funcodec.models.encoder.seanet_encoder import SEANetEncoder2d
    from funcodec.models.quantizer.costume_quantizer import CostumeQuantizer

    config = yaml.safe_load((directory / "config.yaml").read_text())
    encoder = SEANetEncoder2d(input_size=config["input_size"], **config["encoder_conf"])
    quantizer = CostumeQuantizer(input_size=encoder.output_size(), **config["quantizer_conf"])
    decoder = SEANetDecoder2d(input_size=quantizer.output_size(), **config["decoder_conf"])
    # The multi-spectral mel losses are training-only: leave them out.
    model_conf = {**config["model_conf"], "multi_spectral_window_powers_of_two": []}
    model = FreqCodec(input_size=config["input_size"], encoder=encoder, quantizer=quantizer, decoder=decoder, **model_conf)
    return load_as_funcodec_does(model, torch.load(directory / "model.pth", weights_only=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("funcodec", type=Path, help="a FunCodec checkout (the directory holding funcodec/)")
    parser.add_argument("--einops-site", type=Path, default=None)
    args = parser.parse_args()
    import_funcodec(args.funcodec, args.einops_site)

    speech = torch.from_numpy(reference_input())[None]
    arrays = {"input": speech[0].numpy()}
    for case in REFERENCE_CASES:
        with tempfile.TemporaryDirectory() as folder:
            model = build_upstream_model(write_funcodec_model_dir(Path(folder), case.document(), seed=case.seed))
        with torch.no_grad():
            latents, codebooks = latents_and_codebooks(model, speech)
        for bit_width in case.bit_widths_bps:
            with torch.no_grad():
                result = model.inference(speech, need_recon=True, bit_width=bit_width, use_scale=True)
            (codes,) = result["code_indices"]  # [n_q, B, T], one segment
            codes = codes[:, 0, :].numpy()
            ((_, scale),) = result["code_embeddings"]
            margins = residual_vq_margins(latents, codebooks, codes)
            key = f"{case.name}/{bit_width}"
            arrays[f"{key}/codes"] = codes.astype(np.int16)
            arrays[f"{key}/margins"] = margins
            arrays[f"{key}/scale"] = scale.reshape(-1).numpy().astype(np.float32)
            arrays[f"{key}/waveform"] = result["recon_speech"][0, 0].numpy().astype(np.float32)
            print(key, codes.shape, f"smallest margin {margins.min():.2g}, {int((margins < FLOAT_NOISE).sum())} below {FLOAT_NOISE:g}")
    np.savez_compressed(REFERENCE_PATH, **arrays)
    print("wrote", REFERENCE_PATH, REFERENCE_PATH.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
