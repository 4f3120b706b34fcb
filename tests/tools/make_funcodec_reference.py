"""Produce tests/data/funcodec_reference.npz with FunCodec's own code (not part of the test run).

Builds the tiny FunCodec checkpoints that tests/test_funcodec.py builds (same configs, same
seeded weights, FunCodec's key names), loads them into FunCodec's ``Encodec`` model the way
``GANSpeechCodecTask.build_model_from_file`` does, and stores what ``Encodec.inference``
returns (codes and waveform, with the loudness scale) for a few bit widths.

    python tests/tools/make_funcodec_reference.py /path/to/FunCodec [--einops-site DIR]

FunCodec is not installed: its modules are imported from the checkout, with the few
training-only imports they pull in (torchaudio, typeguard, loss and trainer classes) stubbed,
since inference never calls them. Needs ``einops`` (pass a ``pip install --target`` directory
if it is not installed).
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.checkpoints import funcodec_state_dict  # noqa: E402
from tests.test_funcodec import PARITY_CASES, REFERENCE_PATH, parity_input  # noqa: E402


def stub_training_imports() -> None:
    """Modules codec_basic.py imports at load time but inference never uses."""

    def module(name: str, **attributes) -> None:
        stub = types.ModuleType(name)
        stub.__dict__.update(attributes)
        sys.modules[name] = stub

    class AbsGANESPnetModel(torch.nn.Module):
        pass

    module("torchaudio", transforms=types.SimpleNamespace(), functional=types.SimpleNamespace())
    module("typeguard", check_argument_types=lambda: True, check_return_type=lambda *a: True)
    module("funcodec.train.abs_gan_espnet_model", AbsGANESPnetModel=AbsGANESPnetModel)
    module("funcodec.torch_utils.device_funcs", force_gatherable=None)
    module("funcodec.losses.label_smoothing_loss", LabelSmoothingLoss=None)
    module("funcodec.layers.mask_along_axis", MaskAlongAxisVariableMaxWidth=None)
    module("funcodec.utils.hinter", hint_once=lambda *a, **k: None)


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

    # As build_model_from_file: keep source keys the model has (same shape), update, load.
    destination = model.state_dict()
    source = funcodec_state_dict(config, seed)
    kept = {k: v for k, v in source.items() if k in destination and destination[k].shape == v.shape}
    left_out = sorted(set(source) - set(kept))
    not_covered = sorted(set(destination) - set(kept))
    assert not not_covered, f"test weights miss FunCodec keys: {not_covered[:10]}"
    assert all(k.startswith(("discriminator.", "mel_spec_transforms.")) for k in left_out), left_out
    destination.update(kept)
    model.load_state_dict(destination)
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("funcodec", type=Path, help="a FunCodec checkout (the directory holding funcodec/)")
    parser.add_argument("--einops-site", type=Path, default=None)
    args = parser.parse_args()
    if args.einops_site:
        sys.path.insert(0, str(args.einops_site))
    sys.path.insert(0, str(args.funcodec))
    stub_training_imports()

    arrays = {}
    for case in PARITY_CASES:
        model = build_upstream_model(case.config, case.seed)
        speech = parity_input(case)
        arrays[f"{case.name}/input"] = speech
        for bit_width in case.bit_widths:
            with torch.no_grad():
                result = model.inference(torch.from_numpy(speech)[None], need_recon=True, bit_width=bit_width, use_scale=True)
            (codes,) = result["code_indices"]  # [n_q, B, T], one segment
            arrays[f"{case.name}/{bit_width}/codes"] = codes[:, 0, :].numpy().astype(np.int16)
            arrays[f"{case.name}/{bit_width}/waveform"] = result["recon_speech"][0, 0].numpy().astype(np.float32)
            print(case.name, bit_width, codes.shape[0], "quantizers", result["recon_speech"].shape)
    np.savez_compressed(REFERENCE_PATH, **arrays)
    print("wrote", REFERENCE_PATH, REFERENCE_PATH.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
