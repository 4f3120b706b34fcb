"""The Listen page's event handlers, as plain functions of the settings, the scorer and the
values of the page's components.

:mod:`codecbench.app.listen_page` lays the page out and wires these to its events (with
:func:`functools.partial`, or :class:`AddressPreselect` where Gradio must see the handler's own
signature). Kept apart from the layout so that each is unit-tested without a browser: the
values come from the browser, and a forged event may carry anything Gradio's own checks let
through.
"""

from __future__ import annotations

import html
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import gradio as gr

from codecbench.app.listen_pickers import PickerSet, preselect
from codecbench.app.settings import AppSettings
from codecbench.audio import Audio, AudioError, AudioLimits, load_audio
from codecbench.codecs.condition import Condition
from codecbench.comparison import (
    ConditionOutcome,
    OriginalView,
    ReconstructionScorer,
    compare,
    show_original,
)
from codecbench.comparison_record import ComparisonInfo, write_manifest, write_scores
from codecbench.evaluation.metrics import VISQOL_PROTOCOLS
from codecbench.run_folders import new_run_dir

NO_CLIP_MESSAGE = "Upload or record a speech clip first."
NO_CONDITION_MESSAGE = "Pick at least one codec operating point."
UPLOADED_CLIP = "The uploaded clip"  # how messages about the clip name it (never by its server path)


@dataclass(frozen=True, eq=False)
class ListenView:
    """One comparison as the events see it; kept per browser session in a ``gr.State``."""

    info: ComparisonInfo
    original: OriginalView
    conditions: tuple[Condition, ...]
    outcomes: tuple[ConditionOutcome, ...] = ()

    @property
    def run_dir(self) -> Path:
        return self.original.audio_path.parent

    @property
    def pending(self) -> tuple[Condition, ...]:
        return self.conditions[len(self.outcomes):]

    def write(self) -> None:
        """Write the manifest the browser's player polls."""
        write_manifest(self.run_dir, self.info, self.original, [str(c) for c in self.conditions], self.outcomes,
                       done=not self.pending)


def offered_conditions(pickers: PickerSet) -> frozenset[str]:
    """The condition values the page offers (the ready pickers' choices): all Compare may run."""
    return frozenset(value for values in pickers.choices for value in values)


def ticked_conditions(selections: Sequence[object], offered: frozenset[str] | None = None) -> list[str]:
    """The ticked condition values, each once, in the order ticked, and only those ``offered``
    (None: any). Only lists of strings count: a forged event may send anything."""
    ticked = (value for group in selections if isinstance(group, (list, tuple)) for value in group
              if isinstance(value, str))
    return [value for value in dict.fromkeys(ticked) if offered is None or value in offered]


def chosen_conditions(selections: Sequence[object], offered: frozenset[str] | None = None) -> tuple[Condition, ...]:
    """The conditions to run: :func:`ticked_conditions`, parsed.

    Raises:
        gr.Error: a condition that cannot be parsed (naming it), or none ticked.
    """
    try:
        conditions = tuple(Condition.parse(value) for value in ticked_conditions(selections, offered))
    except ValueError as error:
        raise gr.Error(str(error), print_exception=False) from None
    if not conditions:
        raise gr.Error(NO_CONDITION_MESSAGE, print_exception=False)
    return conditions


def read_clip(settings: AppSettings, audio_path: str) -> Audio:
    """The uploaded clip, within the settings' duration bound; its warnings (e.g. mixed down to
    mono) shown as toasts.

    Raises:
        gr.Error: the clip cannot be read or is too long or short; the message names it as the
            uploaded clip, never by its server path.
    """
    try:
        audio = load_audio(audio_path, limits=AudioLimits(max_duration_s=settings.max_duration_s))
    except AudioError as error:
        raise gr.Error(str(error).replace(audio_path, UPLOADED_CLIP), print_exception=False) from None
    for warning in audio.warnings:
        gr.Warning(warning.replace(audio_path, UPLOADED_CLIP))
    return audio


def run_comparison(
    settings: AppSettings, offered: frozenset[str] | None, audio_path: str | None, visqol_protocol: str,
    *selections: list[str],
) -> Iterator[tuple[str, ListenView]]:
    """Compare: transcode the clip under every chosen condition, writing the record after each one.

    Args:
        settings: the work folder, the longest clip accepted and how codecs load.
        offered: the condition values the page offers (the ready pickers'); None: any.
        audio_path: the uploaded or recorded clip.
        visqol_protocol: the ViSQOL protocol the scores will use.
        selections: each picker's ticked condition values. They come from the browser: a forged
            event may repeat a condition any number of times (Gradio checks each value against
            its picker's choices, not repeats) or tick a codec that cannot run. Each condition
            runs once, and only those ``offered``.

    Yields:
        The run marker (which tells the page's script the run id) with the first
        :class:`ListenView`, then ``gr.skip()`` with the view after each condition.

    Raises:
        gr.Error: no clip, no condition, an unknown ViSQOL protocol, or a clip that cannot be read
            (named as the uploaded clip, never by its server path).
    """
    if not audio_path or not isinstance(audio_path, str):
        raise gr.Error(NO_CLIP_MESSAGE, print_exception=False)
    conditions = chosen_conditions(selections, offered)
    if not isinstance(visqol_protocol, str) or visqol_protocol not in VISQOL_PROTOCOLS:
        raise gr.Error(f"Unknown ViSQOL protocol; choose one of {', '.join(VISQOL_PROTOCOLS)}.",
                       print_exception=False)
    audio = read_clip(settings, audio_path)

    run_dir = new_run_dir(settings.work_dir)
    info = ComparisonInfo(run_dir.name, audio_path.rsplit("/", 1)[-1], audio.duration_s, audio.sample_rate_hz,
                          visqol_protocol)
    view = ListenView(info, show_original(audio, run_dir), conditions)
    view.write()
    yield run_marker_html(info.run_id), view
    outcomes = compare(audio, conditions, run_dir, scale=view.original.scale, load_options=settings.load_options)
    for outcome in outcomes:
        view = replace(view, outcomes=(*view.outcomes, outcome))
        view.write()
        yield gr.skip(), view


def score_reconstructions(scorer: ReconstructionScorer, view: ListenView | None) -> None:
    """Score every reconstruction of ``view`` (None: no comparison yet, nothing to do), writing
    the scores as each condition's arrive; a scoring failure is written into the record, for
    the page to show, instead of raised."""
    if not isinstance(view, ListenView):
        return
    scores = []
    try:
        for entry in scorer.score(view.original.audio_path, view.outcomes, view.info.visqol_protocol):
            scores.append(entry)
            write_scores(view.run_dir, scores, done=False)
    except Exception as error:  # e.g. the scoring process cannot start: the page says so in the tables
        write_scores(view.run_dir, scores, done=True, error=f"{type(error).__name__}: {error}")
        return
    write_scores(view.run_dir, scores, done=True)


def run_marker_html(run_id: str) -> str:
    """The element that tells the page's script which comparison to show."""
    return f'<div class="listen-run" data-run="{html.escape(run_id, quote=True)}"></div>'


@dataclass(frozen=True, eq=False)
class AddressPreselect:
    """Tick the conditions (and choose the protocol) a shared address names when the page opens:
    ``/?c=opus@6,codec2@3.2&protocol=speech``."""

    # A callable object rather than a functools.partial: Gradio passes the request only to a
    # handler whose own signature asks for it, and it cannot see the type hints of a partial.
    pickers: PickerSet

    def __call__(self, request: gr.Request) -> list[Any]:
        """An update per picker, then one for the protocol dropdown (``gr.skip()``: unchanged)."""
        params = request.query_params if request is not None else {}
        return preselect(self.pickers, params.get("c"), params.get("protocol"))
