"""A MUSHRA test as its author describes it: items, conditions, anchors and settings.

:mod:`codecbench.listening_test.spec_yaml` reads these from ``test.yaml``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# ITU-R BS.1534-3: at most 12 signals are rated in one trial (hidden reference and anchors count).
MAX_RATED_STIMULI = 12
# BS.1534-3 asks for excerpts of about 10 s, not longer than 12 s.
DEFAULT_MAX_ITEM_DURATION_S = 12.0
DEFAULT_LOUDNESS_LUFS = -26.0

# Anchor names in test.yaml -> the condition kind they become. The low and mid anchors are the
# registry's BS.1534-3 filters, made in Python at each item's own sample rate.
ANCHOR_KINDS = {
    "hidden_reference": "reference",
    "lowpass_3500": "anchor_low",
    "lowpass_7000": "anchor_mid",
}
DEFAULT_ANCHORS = ("hidden_reference", "lowpass_3500", "lowpass_7000")
ALIGNMENTS = ("waveform", "envelope", "none")
REFERENCE_CONDITION = "reference"
# Condition names the test gives its own conditions; systems under test cannot use them.
RESERVED_CONDITION_NAMES = (REFERENCE_CONDITION, *ANCHOR_KINDS)
# Query parameters the participant link itself uses; crowd ID parameters must differ.
RESERVED_LINK_PARAMS = ("test", "session")


class SpecError(ValueError):
    """``test.yaml`` is not a valid test; the message names the key and the remedy."""


@dataclass(frozen=True)
class FileItem:
    """An item given as an audio file."""

    name: str
    path: Path


@dataclass(frozen=True)
class TestSetItems:
    """Items taken from a test set the database already knows (scored by the evaluation engine)."""

    __test__ = False  # not a pytest test class

    test_set: str
    utterances: tuple[str, ...]


@dataclass(frozen=True)
class CodecCondition:
    """A registry codec at one operating point (``bitrate_kbps`` is ``None`` for single-point codecs)."""

    name: str
    codec: str
    bitrate_kbps: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"type": "codec", "codec": self.codec, "bitrate_kbps": self.bitrate_kbps}


@dataclass(frozen=True)
class FileCondition:
    """A system whose outputs are given as audio files, one per item.

    Attributes:
        files: item name -> file path.
        alignment: how its delay against the reference is found and removed: ``waveform``
            cross-correlation (waveform codecs), ``envelope`` (vocoders, whose phase is
            synthetic), or ``none`` (already aligned).
    """

    name: str
    files: Mapping[str, Path]
    alignment: str = "waveform"

    def to_dict(self) -> dict[str, Any]:
        return {"type": "files", "files": {k: str(v) for k, v in self.files.items()}, "alignment": self.alignment}


@dataclass(frozen=True)
class PlannedCondition:
    """A condition as the test makes it: its name, kind, whether it is rated, and its source.

    ``source`` is ``None`` for the reference; anchors are registry codecs.
    """

    name: str
    kind: str
    rated: bool
    source: CodecCondition | FileCondition | None = None

    def definition(self) -> dict[str, Any]:
        if self.source is None:
            return {"type": "reference"}
        return self.source.to_dict()


@dataclass(frozen=True)
class CrowdSettings:
    """How crowd workers arrive and leave.

    Attributes:
        id_param: the link's query parameter that carries the participant's ID (Prolific:
            ``PROLIFIC_PID``; MTurk: ``workerId``). An ID can take the test only once.
        completion_code: shown at the end (and appended to nothing: put it in ``redirect_url``
            yourself if the platform wants it there).
        redirect_url: where the participant is sent after the completion page.
        require_id: refuse a link without the ID parameter.
        new_sessions_per_minute: new sessions the test takes per minute (from everyone).
        sessions_per_address_per_hour: new sessions one client address may start per hour
            (participants behind one network address, as in a lab, need a larger value).
    """

    id_param: str = "PROLIFIC_PID"
    completion_code: str | None = None
    redirect_url: str | None = None
    require_id: bool = True
    new_sessions_per_minute: int = 30
    sessions_per_address_per_hour: int = 3


@dataclass(frozen=True)
class TestSettings:
    """What the participant flow needs at run time; stored with the test."""

    __test__ = False  # not a pytest test class

    items_per_participant: int
    training: bool = True
    training_item: str | None = None
    level_check: bool = True
    require_100: bool = False
    min_listen_s: float = 0.0
    instructions: str | None = None
    crowd: CrowdSettings | None = None
    title: str | None = None  # shown to participants; tests stored before it existed have none
    headphone_check: bool = False  # the antiphase headphone check (headphone_check.py)
    consent: str | None = None  # Markdown the participant must agree to before the test
    questionnaire: bool = False  # ask age range, hearing problems and device (participant_info.py)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TestSettings:
        values = json.loads(text)
        crowd = values.pop("crowd")
        return cls(**values, crowd=CrowdSettings(**crowd) if crowd else None)


@dataclass(frozen=True)
class TestSpec:
    """A parsed ``test.yaml``.

    Attributes:
        items: the items as files, or a reference to a test set.
        conditions: the systems under test, in the order given.
        anchors: anchor names from :data:`ANCHOR_KINDS`, in the order given.
        items_per_participant: how many items each participant rates; ``None`` means all.
        training: a training trial (with the training item) comes before the test trials.
        training_item: the item used for training; ``None`` means the first item.
        loudness_lufs: every stimulus of an item is brought to this integrated loudness
            (lowered together when that would clip).
        max_item_duration_s: longer items (seconds) are refused at ``mushra create``.
        title: the public title shown to participants; ``name`` stays internal (admin, CLI,
            exports). ``None`` shows a neutral "Listening test".
        headphone_check: offer the antiphase headphone check (Woods et al. 2017), graded on
            the server; its result is stored per session for screening.
        consent: Markdown shown before the test with an "I agree" box the participant must
            tick; ``None``: no consent step.
        questionnaire: ask age range, hearing problems and listening device (fixed choices,
            each optional), stored with the participant.
        source_text: ``test.yaml`` as written, stored with the test.
    """

    __test__ = False  # not a pytest test class

    name: str
    items: tuple[FileItem, ...] | TestSetItems
    conditions: tuple[CodecCondition | FileCondition, ...]
    anchors: tuple[str, ...] = DEFAULT_ANCHORS
    items_per_participant: int | None = None
    training: bool = True
    training_item: str | None = None
    level_check: bool = True
    require_100: bool = False
    min_listen_s: float = 0.0
    loudness_lufs: float = DEFAULT_LOUDNESS_LUFS
    max_item_duration_s: float = DEFAULT_MAX_ITEM_DURATION_S
    instructions: str | None = None
    crowd: CrowdSettings | None = None
    title: str | None = None
    headphone_check: bool = False
    consent: str | None = None
    questionnaire: bool = False
    source_text: str = ""
    warnings: tuple[str, ...] = field(default=())

    @property
    def num_rated_stimuli(self) -> int:
        """Stimuli rated per trial: the anchors (hidden reference included) and the conditions."""
        return len(self.anchors) + len(self.conditions)

    def planned_conditions(self) -> tuple[PlannedCondition, ...]:
        """Every condition of a trial: the reference, the anchors, then the systems under test.

        The reference is always made (it is the open reference every trial plays); it is also
        rated, as the hidden reference, when ``hidden_reference`` is among the anchors.
        """
        planned = [PlannedCondition(REFERENCE_CONDITION, "reference", "hidden_reference" in self.anchors)]
        planned += [PlannedCondition(name, ANCHOR_KINDS[name], True, CodecCondition(name, name))
                    for name in self.anchors if name != "hidden_reference"]
        planned += [PlannedCondition(c.name, "system", True, c) for c in self.conditions]
        return tuple(planned)

    def settings(self, item_names: list[str]) -> TestSettings:
        """The run-time settings, once the item names are known (test-set items are named on loading)."""
        num_items = len(item_names)
        return TestSettings(
            items_per_participant=min(self.items_per_participant or num_items, num_items),
            training=self.training,
            training_item=(self.training_item or item_names[0]) if self.training else None,
            level_check=self.level_check,
            require_100=self.require_100,
            min_listen_s=self.min_listen_s,
            instructions=self.instructions,
            crowd=self.crowd,
            title=self.title,
            headphone_check=self.headphone_check,
            consent=self.consent,
            questionnaire=self.questionnaire,
        )
