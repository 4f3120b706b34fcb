"""The Listen page's voice-conversion box: what one clip says, in the voice of another (FACodec).

Layout and one event; the work is done by :func:`codecbench.voice_conversion.convert_voice`.
Whether FACodec and its redecoder are there is checked when the page is built, as for the
codec pickers: without them the box says why and how to get them.
"""

from __future__ import annotations

import gradio as gr

from codecbench.app.settings import AppSettings
from codecbench.audio import AudioError, AudioLimits, load_audio, write_audio
from codecbench.codecs import CodecNotReadyError, LoadOptions
from codecbench.codecs.facodec import FACODEC_NAME
from codecbench.run_folders import new_run_dir
from codecbench.voice_conversion import convert_voice, voice_conversion_readiness

INTRO = (
    "### Voice conversion (FACodec)\n"
    "The content clip's prosody and content codes, spoken with the timbre (speaker) vector of the "
    "timbre clip by FACodec's redecoder. The result has the content clip's length and sample rate."
)


def build_voice_conversion_box(settings: AppSettings) -> None:
    """Lay out the voice-conversion box inside the current Blocks context."""
    options = settings.load_options(FACODEC_NAME)
    state = voice_conversion_readiness(options)
    unavailable = "" if state.ready else f"\n\n**Not available:** {state.reason} {state.remedy or ''} (then restart the app)"
    with gr.Group(elem_id="voice-conversion"):
        gr.Markdown(INTRO + unavailable, elem_id="voice-conversion-info")
        with gr.Row():
            content_input = gr.Audio(
                sources=["upload", "microphone"], type="filepath", label="Content clip (what is said, and how)",
                elem_id="voice-conversion-content",
            )
            timbre_input = gr.Audio(
                sources=["upload", "microphone"], type="filepath", label="Timbre clip (whose voice)",
                elem_id="voice-conversion-timbre",
            )
        run_button = gr.Button("Convert voice", interactive=state.ready, elem_id="voice-conversion-run")
        status = gr.Markdown(elem_id="voice-conversion-status")
        output = gr.Audio(
            type="filepath", label="converted", interactive=False, buttons=["download"],
            elem_id="voice-conversion-output",
        )

    def run(content_path: str | None, timbre_path: str | None) -> tuple[str, str]:
        return run_voice_conversion(settings, options, content_path, timbre_path)

    run_button.click(run, inputs=[content_input, timbre_input], outputs=[output, status], show_progress="minimal")


def run_voice_conversion(
    settings: AppSettings, options: LoadOptions, content_path: str | None, timbre_path: str | None
) -> tuple[str, str]:
    """The box's event: (converted file, status message) for two uploaded clips.

    Raises:
        gr.Error: a clip is missing or unreadable, FACodec cannot run, or a file could not be
            read or written; the message says which.
    """
    if not content_path or not timbre_path:
        raise gr.Error("Upload or record both clips: the content clip and the timbre clip.", print_exception=False)
    limits = AudioLimits(max_duration_s=settings.max_duration_s)
    clips = []
    for path, name in ((content_path, "The content clip"), (timbre_path, "The timbre clip")):
        try:
            clips.append(load_audio(path, limits=limits))
        except AudioError as error:
            raise gr.Error(str(error).replace(path, name), print_exception=False) from None
        for warning in clips[-1].warnings:
            gr.Warning(warning.replace(path, name))
    try:
        result = convert_voice(*clips, options)
        audio_path = write_audio(new_run_dir(settings.work_dir) / "converted.wav", result.samples, result.sample_rate_hz)
    except (CodecNotReadyError, ValueError) as error:
        raise gr.Error(str(error), print_exception=False) from None
    except OSError as error:  # an unreadable checkpoint, a full disk, a work directory that is not one
        raise gr.Error(f"Voice conversion failed: {error}", print_exception=False) from None
    message = (
        f"Converted {result.duration_s:.2f} s at {result.sample_rate_hz / 1000:g} kHz in "
        f"{result.processing_s:.2f} s ({result.processing_s / result.duration_s:.3f}× real time)."
    )
    return str(audio_path), message
