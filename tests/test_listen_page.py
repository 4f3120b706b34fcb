"""The Listen page's codec pickers, built the way the page builds them (no browser needed)."""

from __future__ import annotations

import gradio as gr

from codecbench.app import AppSettings
from codecbench.app.listen_pickers import _condition_picker as _family_and_picker
from codecbench.codecs import get_entry
from tests.checkpoints import save_funcodec_model


def _condition_picker(entry, settings):
    return _family_and_picker(entry, settings)[1]


def test_a_model_dir_codec_offers_its_model_points_and_one_without_says_what_it_needs(tmp_path, codecbench_home):
    settings = AppSettings(work_dir=tmp_path / "work", model_dirs={"funcodec": save_funcodec_model(tmp_path / "model")})
    with gr.Blocks():
        funcodec = _condition_picker(get_entry("funcodec"), settings)
        encodec = _condition_picker(get_entry("encodec"), settings)
        dac = _condition_picker(get_entry("dac_16khz"), settings)
    assert funcodec.interactive
    assert [label for label, _ in funcodec.choices] == ["0.25 kbps", "0.5 kbps", "1 kbps", "2 kbps", "4 kbps", "8 kbps"]
    assert [value for _, value in funcodec.choices][2] == "funcodec@1"
    assert not encodec.interactive and encodec.choices == []
    assert "Pass --model-dir DIR holding config.json and model.safetensors." in encodec.info
    assert not dac.interactive and "codecbench download dac_16khz" in dac.info


def test_a_freqcodec_model_dir_offers_the_points_of_its_config(tmp_path, codecbench_home):
    from tests.freqcodec_checkpoints import write_funcodec_model_dir

    settings = AppSettings(work_dir=tmp_path / "work", model_dirs={"freqcodec": write_funcodec_model_dir(tmp_path / "model")})
    with gr.Blocks():
        freqcodec = _condition_picker(get_entry("freqcodec"), settings)
    assert freqcodec.interactive
    assert [label for label, _ in freqcodec.choices] == ["0.5 kbps", "1 kbps", "2 kbps", "4 kbps", "8 kbps", "16 kbps"]
    assert [value for _, value in freqcodec.choices][2] == "freqcodec@2"


def test_a_shared_link_repeating_a_condition_ticks_it_once_and_the_warning_reads_well():
    """``?c=opus@6,opus@6,...`` ticked opus@6 as many times as the link named it (and Compare
    ran it that often); a warning naming only unreadable names began with "and"."""
    import gradio as gr

    from codecbench.app.listen_pickers import PickerSet, _echo, preselect

    picker = gr.CheckboxGroup(choices=[("6 kbps", "opus@6"), ("12 kbps", "opus@12")], render=False)
    pickers = PickerSet((picker,), (("opus@6", "opus@12"),))
    updates = preselect(pickers, ",".join(["opus@6", "opus@6.0", "opus@12"] * 10), None)
    assert updates[0]["value"] == ["opus@6", "opus@12"]
    assert _echo(["<img src=x>"]) == "1 unreadable name(s)"
    assert _echo(["nonsense@9", "<b>"]) == "nonsense@9 and 1 unreadable name(s)"
