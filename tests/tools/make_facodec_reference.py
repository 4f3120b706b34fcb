"""Produce tests/data/facodec_reference.npz with Amphion's own FACodec code (not part of the test run).

Writes the tiny FACodec checkpoint tests/test_facodec.py loads (same config, same seeded
weights, Amphion's key names), loads it into Amphion's ``FACodecEncoder``, ``FACodecDecoder``
and ``FACodecRedecoder`` built with the same sizes, and stores what they return for three clips of lengths
that are not whole 200-sample frames (two that Amphion's encoder gives fewer frames than the
samples begun, one it gives one frame more): encoder output, codes with each code's margin
(see tests/reference_codes.py), timbre vectors, reconstructions (all codes, and prosody +
content only) and a voice conversion, the way Amphion's README runs them: on the clips as
given, unpadded.

    python tests/tools/make_facodec_reference.py /path/to/Amphion/models/codec

The argument is the directory holding ``ns3_codec/``. Amphion is not installed: ``ns3_codec`` is
imported from there, with its ``melspec`` module stubbed (it imports pyworld and torchaudio for
the V2 classes, which inference of these never touches). Needs ``einops``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import types
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from codecbench.codecs.facodec import DECODER_FILENAME, ENCODER_FILENAME, REDECODER_FILENAME, FACodecConfig  # noqa: E402
from codecbench.codecs.facodec.checkpoint import decoder_training_only_prefixes, read_state_dict  # noqa: E402
from tests.facodec_fixtures import TINY_CONFIG, write_tiny_facodec  # noqa: E402
from tests.reference_codes import FLOAT_NOISE, nearest_codeword_margins  # noqa: E402
from tests.test_facodec import REFERENCE_PATH, REFERENCE_SEED, parity_inputs  # noqa: E402

TRAINING_ONLY = decoder_training_only_prefixes(FACodecConfig.from_dict(TINY_CONFIG).decoder)


def import_amphion(codec_dir: Path):
    stub = types.ModuleType("ns3_codec.melspec")
    stub.MelSpectrogram = None
    sys.modules["ns3_codec.melspec"] = stub
    sys.path.insert(0, str(codec_dir))
    import ns3_codec
    from ns3_codec.transformer import TransformerEncoder

    return ns3_codec, TransformerEncoder


def upstream_arguments(section: str) -> tuple[dict, dict]:
    """Amphion's constructor arguments for one network, and its transformer's sizes."""
    arguments = {k: v for k, v in TINY_CONFIG[section].items() if not isinstance(v, dict) and k != "vq_commit_weight"}
    transformer = next((v for v in TINY_CONFIG[section].values() if isinstance(v, dict)), {})
    return arguments, {k: v for k, v in transformer.items() if k != "max_len"}


def load_into(module: torch.nn.Module, path: Path) -> None:
    """Load our tiny checkpoint as Amphion would, leaving out only what cannot match by design:
    training heads (ours are stand-ins) and positional tables of another length (identical rows)."""
    own = module.state_dict()
    state = {}
    for key, tensor in read_state_dict(path).items():
        if key.startswith(TRAINING_ONLY):
            continue
        if key.endswith("position_emb.pe") and own[key].shape != tensor.shape:
            assert torch.equal(own[key][: tensor.shape[0]], tensor), key
            continue
        state[key] = tensor
    missing, unexpected = module.load_state_dict(state, strict=False)
    assert not unexpected, unexpected
    assert all(key.startswith(TRAINING_ONLY) or key.endswith("position_emb.pe") for key in missing), missing


class QuantizerInputs:
    """Records, for one decoder call, each residual VQ's input and each of its layers' input."""

    def __init__(self, decoder: torch.nn.Module):
        self.rvq_inputs: list[torch.Tensor] = []
        self.layer_inputs: list[list[torch.Tensor]] = []
        for rvq in decoder.quantizer:  # prosody, content, residual
            rvq.register_forward_pre_hook(self._rvq_input)
            for layer in rvq.layers:
                layer.register_forward_pre_hook(self._layer_input)

    def _rvq_input(self, module, args) -> None:
        self.rvq_inputs.append(args[0].detach().clone())
        self.layer_inputs.append([])

    def _layer_input(self, module, args) -> None:
        self.layer_inputs[-1].append(args[0].detach().clone())

    def clear(self) -> None:
        self.rvq_inputs.clear()
        self.layer_inputs.clear()


def factorized_vq_margins(decoder: torch.nn.Module, recorded: QuantizerInputs, codes: np.ndarray) -> np.ndarray:
    """Margins ``[6, T]`` of the codes ``[6, T]`` Amphion's decoder chose for one clip.

    Each factorized VQ layer compares ``normalize(in_proj(residual))`` with its normalised
    codebook. Rounding moves the residual by about ``|latent|`` relative (the RVQ's input; for
    the residual RVQ also the encoder output it is computed from),
    the projection by ``|W|_2`` times that, and the normalisation divides by ``|in_proj(residual)|``:
    that is the sensitivity each margin is divided by.
    """
    norms = [rvq_input[0].double().norm(dim=0).numpy() for rvq_input in recorded.rvq_inputs]  # [T] each
    # Prosody quantizes its own mel-derived input and content the encoder output x; the residual
    # quantizer's input is x minus the other two's output, so its rounding is relative to |x|
    # as much as to its own (smaller) input.
    latent_norms = [norms[0], norms[1], np.maximum(norms[1], norms[2])]
    margins = []
    row = 0
    for rvq, latent_norm, layer_inputs in zip(decoder.quantizer, latent_norms, recorded.layer_inputs):
        for layer, residual in zip(rvq.layers, layer_inputs):
            weight = layer.in_proj.weight.detach().double()
            projected = residual[0].double().T @ weight.T + layer.in_proj.bias.detach().double()  # [T, d]
            projected_norm = projected.norm(dim=1).clamp_min(1e-12)
            vectors = (projected / projected_norm[:, None]).numpy()
            codebook = torch.nn.functional.normalize(layer.codebook.weight.detach().double()).numpy()
            sensitivity = float(torch.linalg.matrix_norm(weight, ord=2)) * latent_norm / projected_norm.numpy()
            margins.append(nearest_codeword_margins(vectors, codebook, codes[row], sensitivity))
            row += 1
    assert row == codes.shape[0], (row, codes.shape)
    return np.stack(margins).astype(np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("codec_dir", type=Path, help="Amphion's models/codec (the directory holding ns3_codec/)")
    args = parser.parse_args()
    ns3_codec, TransformerEncoder = import_amphion(args.codec_dir)

    encoder_args, _ = upstream_arguments("encoder")
    decoder_args, decoder_transformer = upstream_arguments("decoder")
    redecoder_args, redecoder_transformer = upstream_arguments("redecoder")
    encoder = ns3_codec.FACodecEncoder(**encoder_args)
    decoder = ns3_codec.FACodecDecoder(**decoder_args)
    redecoder = ns3_codec.FACodecRedecoder(**redecoder_args)
    # Amphion hard-codes 256-wide transformers; build its own class at the tiny sizes.
    decoder.timbre_encoder = TransformerEncoder(enc_emb_tokens=None, encoder_dropout=0.1, use_cln=False, **decoder_transformer)
    redecoder.timbre_cond_prosody_enc = TransformerEncoder(
        enc_emb_tokens=None, encoder_dropout=0.1, use_cln=True, cfg=None, **redecoder_transformer
    )
    with tempfile.TemporaryDirectory() as folder:
        write_tiny_facodec(Path(folder), seed=REFERENCE_SEED)
        for module, name in ((encoder, ENCODER_FILENAME), (decoder, DECODER_FILENAME), (redecoder, REDECODER_FILENAME)):
            load_into(module, Path(folder) / name)
    for module in (encoder, decoder, redecoder):
        module.eval()
    recorded = QuantizerInputs(decoder)

    arrays: dict[str, np.ndarray] = {}
    outputs = {}
    with torch.no_grad():
        for name, clip in parity_inputs().items():
            arrays[f"{name}/input"] = clip
            latents = encoder(torch.from_numpy(clip)[None, None])
            recorded.clear()
            embedding, codes, _, _, timbre = decoder(latents, eval_vq=False, vq=True)  # codes: [6, 1, T]
            outputs[name] = (codes, timbre)
            margins = factorized_vq_margins(decoder, recorded, codes[:, 0].numpy())
            print(name, clip.shape[0], "samples,", codes.shape[-1], "frames, smallest margin",
                  f"{margins.min():.2g}, {int((margins < FLOAT_NOISE).sum())} below {FLOAT_NOISE:g}")
            arrays[f"{name}/encoder_output"] = latents[0].numpy()
            arrays[f"{name}/codes"] = codes[:, 0].numpy().astype(np.int16)
            arrays[f"{name}/margins"] = margins
            arrays[f"{name}/timbre"] = timbre[0].numpy()
            arrays[f"{name}/reconstruction"] = decoder.inference(decoder.vq2emb(codes), timbre)[0, 0].numpy()
            arrays[f"{name}/reconstruction_prosody_content"] = decoder.inference(
                decoder.vq2emb(codes, use_residual_code=False), timbre
            )[0, 0].numpy()
        (codes, _), (_, timbre) = outputs["content"], outputs["timbre"]
        embedding = redecoder.vq2emb(codes, timbre, use_residual=False)
        arrays["conversion"] = redecoder.inference(embedding, timbre)[0, 0].numpy()
    np.savez_compressed(REFERENCE_PATH, **arrays)
    print(json.dumps({key: list(value.shape) for key, value in arrays.items()}))
    print("wrote", REFERENCE_PATH, REFERENCE_PATH.stat().st_size, "bytes")


if __name__ == "__main__":
    main()
