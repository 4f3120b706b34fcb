"""The checkpoint-porting module on tiny random checkpoints in each upstream format.

FACodec (Amphion's ``ns3_facodec_*.bin``), FreqCodec (FunCodec's ``model.pth``) and FunCodec's
EnCodec-type ``model.pth`` are written by the builders the codecs' own tests use, then loaded
through :mod:`codecbench.codecs.checkpoint_porting` with each model's key map and skip list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
from torch import nn

from codecbench.codecs.checkpoint_porting import (
    CheckpointError,
    LoadReport,
    Skip,
    fold_weight_norm,
    load_checkpoint,
    port_state_dict,
    read_checkpoint,
)
from codecbench.codecs.facodec.checkpoint import decoder_skip_list, key_map
from codecbench.codecs.facodec.config import DECODER_FILENAME, FACodecConfig
from codecbench.codecs.facodec.model import FACodecModel
from codecbench.codecs.freqcodec.checkpoint import SKIP_LIST as FREQCODEC_SKIP_LIST
from codecbench.codecs.freqcodec.checkpoint import load_model
from codecbench.codecs.freqcodec.upstream_config import config_from_funcodec
from codecbench.codecs.funcodec_format import SKIP_LIST as FUNCODEC_SKIP_LIST
from codecbench.codecs.funcodec_format import FunCodecConfig, encodec_key
from tests.checkpoints import funcodec_config, save_funcodec_model
from tests.facodec_fixtures import TINY_CONFIG, training_only_tensors, write_tiny_facodec
from tests.freqcodec_checkpoints import freqcodec_config_document, write_funcodec_model_dir


@dataclass(frozen=True)
class Format:
    """One upstream format: how to write a tiny checkpoint and load it through the module.

    ``write(directory)`` returns the checkpoint file; ``load(path)`` ports it into a fresh model
    and returns the report; ``skips`` is the model's skip list; ``present``/``absent`` are an
    upstream key the file holds and one no model of that format has.
    """

    name: str
    write: Callable[[Path], Path]
    load: Callable[[Path], LoadReport]
    skips: tuple[Skip, ...]
    present: str
    absent: str


def _facodec_decoder(path: Path) -> LoadReport:
    config = FACodecConfig.from_dict(TINY_CONFIG)
    decoder = FACodecModel(config, with_redecoder=False).decoder
    return load_checkpoint(decoder, path, key_map(decoder), skip=decoder_skip_list(config.decoder))


def _freqcodec(path: Path) -> LoadReport:
    return load_model(config_from_funcodec(freqcodec_config_document()), path)[1]


def _funcodec(path: Path) -> LoadReport:
    from transformers import EncodecModel

    config = FunCodecConfig.from_yaml(path.parent / "config.yaml")
    checkpoint = read_checkpoint(path)
    model = EncodecModel(config.encodec_config())
    return port_state_dict(
        model, checkpoint.tensors, encodec_key, skip=FUNCODEC_SKIP_LIST, source=path, source_format=checkpoint.source_format
    )


FORMATS = [
    Format(
        "facodec",
        lambda directory: (write_tiny_facodec(directory, with_redecoder=False), directory / DECODER_FILENAME)[1],
        _facodec_decoder,
        decoder_skip_list(FACodecConfig.from_dict(TINY_CONFIG).decoder),
        present="timbre_linear.bias",
        absent="quantizer.9.layers.0._codebook.weight",
    ),
    Format(
        "freqcodec",
        lambda directory: write_funcodec_model_dir(directory) / "model.pth",
        _freqcodec,
        FREQCODEC_SKIP_LIST,
        present="decoder.model.0.conv.conv.bias",
        absent="encoder.model.99.conv.conv.weight",
    ),
    Format(
        "funcodec",
        lambda directory: save_funcodec_model(directory, funcodec_config(num_quantizers=4, codebook_size=16)) / "model.pth",
        _funcodec,
        FUNCODEC_SKIP_LIST,
        present="decoder.model.0.conv.conv.bias",
        absent="context_model.linear.weight",
    ),
]


@pytest.fixture(params=FORMATS, ids=[f.name for f in FORMATS])
def written(request, tmp_path: Path) -> tuple[Format, Path]:
    fmt: Format = request.param
    return fmt, fmt.write(tmp_path / fmt.name)


def _rewrite(path: Path, edit: Callable[[dict[str, torch.Tensor]], object]) -> None:
    state = torch.load(path, weights_only=True)
    edit(state)
    torch.save(state, path)


# --------------------------------------------------------------------------------- reports


def test_report_lists_each_skipped_key_with_the_reason_of_its_skip_entry(written):
    fmt, path = written
    report = fmt.load(path)
    upstream = torch.load(path, weights_only=True)
    expected = sorted(key for key in upstream if any(skip.matches(key) for skip in fmt.skips))
    assert list(report.skipped_keys) == expected and expected
    for skipped in report.skipped:
        assert skipped.skip in fmt.skips and skipped.skip.matches(skipped.key)
        assert skipped.reason == skipped.skip.reason and skipped.reason
        assert skipped.num_values == upstream[skipped.key].numel()
    assert report.source == str(path) and report.source_format == "torch (memory-mapped)"
    assert report.fits and report.missing == report.unexpected == report.wrong_shape == ()


def test_facodec_skips_exactly_the_training_heads_with_their_reasons(tmp_path: Path):
    write_tiny_facodec(tmp_path, with_redecoder=False)
    report = _facodec_decoder(tmp_path / DECODER_FILENAME)
    assert set(report.skipped_keys) == set(training_only_tensors())
    reasons = {skipped.skip.key: skipped.reason for skipped in report.skipped}
    assert reasons["x_timbre_predictor."].startswith("speaker classifier")
    assert report.skipped_values == sum(t.numel() for t in training_only_tensors().values())


# ------------------------------------------------------------------------- mismatch errors


def test_a_missing_key_is_named_with_the_file(written):
    fmt, path = written
    _rewrite(path, lambda state: state.pop(fmt.present))
    with pytest.raises(CheckpointError) as raised:
        fmt.load(path)
    message = str(raised.value)
    assert message.startswith(f"{path} does not fit the model its configuration describes (missing: ")
    assert raised.value.path == path
    missing = raised.value.report.missing
    # FunCodec's map is a function (no way back), so its missing keys carry EncodecModel's name
    assert missing == ((fmt.present,) if fmt.name != "funcodec" else ("decoder.layers.0.conv.bias",))
    assert missing[0] in message


def test_an_unexpected_key_is_named_with_the_file(written):
    fmt, path = written
    _rewrite(path, lambda state: state.update({fmt.absent: torch.zeros(2)}))
    with pytest.raises(CheckpointError) as raised:
        fmt.load(path)
    assert raised.value.path == path
    assert raised.value.report.unexpected == (fmt.absent,)
    assert f"{path} does not fit the model its configuration describes (unexpected: {fmt.absent})" in str(raised.value)


def test_a_wrong_shape_names_the_upstream_key_and_both_shapes(written):
    fmt, path = written
    state = torch.load(path, weights_only=True)
    shape = tuple(state[fmt.present].shape)
    _rewrite(path, lambda state: state.update({fmt.present: torch.zeros(shape[0] + 1)}))
    with pytest.raises(CheckpointError, match=rf"\(wrong shape: {fmt.present} \({shape[0] + 1},\) \(model \({shape[0]},\)\)\)"):
        fmt.load(path)


def test_a_stacked_tensor_split_by_index_names_its_row_when_misshapen(tmp_path: Path):
    path = save_funcodec_model(tmp_path, funcodec_config(num_quantizers=4, codebook_size=16)) / "model.pth"
    _rewrite(path, lambda state: state.update({"quantizer.rq.model.embed": torch.zeros(4, 16, 3)}))
    with pytest.raises(CheckpointError) as raised:
        _funcodec(path)
    assert raised.value.report.wrong_shape == tuple(
        f"quantizer.rq.model.embed[{index}] (16, 3) (model (16, 8))" for index in range(4)
    )


def test_an_unreadable_file_is_named_with_what_to_do(tmp_path: Path):
    path = tmp_path / "model.pth"
    path.write_bytes(b"<html>rate limited</html>")
    message = rf"(?s)^{path} is not a readable PyTorch checkpoint \(.*\)\. Delete it and fetch it again\.$"
    with pytest.raises(CheckpointError, match=message) as raised:
        read_checkpoint(path)
    assert raised.value.path == path and raised.value.report is None


def test_a_file_holding_other_objects_than_tensors_is_refused(tmp_path: Path):
    path = tmp_path / "model.pth"
    torch.save({"weight": torch.zeros(2), "epoch": 3}, path)
    with pytest.raises(CheckpointError, match=rf"^{path} does not hold a state dict .*: epoch \(int\) is not tensors?"):
        read_checkpoint(path)


def test_nothing_is_loaded_when_the_checkpoint_does_not_fit():
    module = nn.Linear(3, 2)
    before = {key: tensor.clone() for key, tensor in module.state_dict().items()}
    with pytest.raises(CheckpointError):
        port_state_dict(module, {"w": torch.ones(2, 3)}, {"w": "weight", "b": "bias"})
    assert all(torch.equal(before[key], tensor) for key, tensor in module.state_dict().items())


# ----------------------------------------------------------------------------- weight norm


def _weight_normed(kind: str, transposed: bool) -> nn.Sequential:
    torch.manual_seed(3)
    conv = nn.ConvTranspose1d(4, 6, 5) if transposed else nn.Conv1d(4, 6, 5)
    if kind == "weight_norm":
        conv = nn.utils.weight_norm(conv)
        magnitude = conv.weight_g
    else:
        conv = nn.utils.parametrizations.weight_norm(conv)
        magnitude = conv.parametrizations.weight.original0
    with torch.no_grad():  # a magnitude that is not just ||v||, so folding must use it
        magnitude.mul_(torch.rand(magnitude.shape) + 0.5)
    return nn.Sequential(conv)


_OLD_WEIGHT_NORM = pytest.mark.filterwarnings("ignore:`torch.nn.utils.weight_norm` is deprecated:FutureWarning")


@_OLD_WEIGHT_NORM
@pytest.mark.parametrize("transposed", [False, True], ids=["conv", "transposed"])
@pytest.mark.parametrize("kind", ["weight_norm", "parametrizations"])
def test_folding_gives_the_weight_normed_modules_effective_weight(tmp_path: Path, kind: str, transposed: bool):
    original = _weight_normed(kind, transposed)
    torch.save(original.state_dict(), tmp_path / "model.pth")
    plain = nn.Sequential(nn.ConvTranspose1d(4, 6, 5) if transposed else nn.Conv1d(4, 6, 5))
    identity = {"0.weight": "0.weight", "0.bias": "0.bias"}
    report = load_checkpoint(plain, tmp_path / "model.pth", identity, weight_norm_prefixes=("0.",))
    assert report.folded_weight_norm == ("0.weight",) and report.folded_weight_norm_pairs == 1
    with torch.no_grad():
        signal = torch.randn(1, 4, 20)
        expected = original(signal)  # the old weight_norm recomputes ``weight`` in a forward pre-hook
        torch.testing.assert_close(plain[0].weight, original[0].weight)
        torch.testing.assert_close(plain(signal), expected)


def test_fold_weight_norm_matches_torch_on_a_linear_layer():
    linear = nn.utils.parametrizations.weight_norm(nn.Linear(5, 3))
    with torch.no_grad():
        linear.parametrizations.weight.original0.mul_(2.5)
    parts = linear.parametrizations.weight
    torch.testing.assert_close(fold_weight_norm(parts.original0, parts.original1), linear.weight)


@_OLD_WEIGHT_NORM
def test_a_weight_norm_pair_missing_a_half_names_the_half():
    original = _weight_normed("weight_norm", transposed=False)
    state = original.state_dict()
    del state["0.weight_g"]
    plain = nn.Sequential(nn.Conv1d(4, 6, 5))
    with pytest.raises(CheckpointError, match=r"\(missing: 0\.weight_g; unexpected: 0\.weight_v\)"):
        port_state_dict(plain, state, {"0.weight": "0.weight", "0.bias": "0.bias"}, weight_norm_prefixes=("0.",))


# --------------------------------------------------------------------------------- reading


def test_zip_checkpoints_are_memory_mapped(tmp_path: Path):
    path = tmp_path / "weights.bin"
    saved = {"a.weight": torch.randn(16, 8), "b.bias": torch.randn(8)}
    torch.save(saved, path)
    checkpoint = read_checkpoint(path)
    assert checkpoint.source_format == "torch (memory-mapped)"
    maps = Path("/proc/self/maps")
    if maps.is_file():  # Linux: the file itself is mapped into this process
        assert str(path) in maps.read_text()
    assert checkpoint.tensors.keys() == saved.keys()
    assert all(torch.equal(checkpoint.tensors[key], saved[key]) for key in saved)


def test_legacy_checkpoints_are_read_whole(tmp_path: Path):
    path = tmp_path / "weights.pth"
    torch.save({"a.weight": torch.randn(4)}, path, _use_new_zipfile_serialization=False)
    checkpoint = read_checkpoint(path)
    assert checkpoint.source_format == "torch (legacy, read whole)"
    assert checkpoint.tensors["a.weight"].shape == (4,)


def test_safetensors_checkpoints_are_memory_mapped(tmp_path: Path):
    safetensors_torch = pytest.importorskip("safetensors.torch")
    path = tmp_path / "model.safetensors"
    saved = {"a.weight": torch.randn(16, 8)}
    safetensors_torch.save_file(saved, path)
    checkpoint = read_checkpoint(path)
    assert checkpoint.source_format == "safetensors (memory-mapped)"
    assert torch.equal(checkpoint.tensors["a.weight"], saved["a.weight"])


def test_a_missing_file_is_named(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=rf"no checkpoint file {tmp_path / 'absent.pth'}"):
        read_checkpoint(tmp_path / "absent.pth")
