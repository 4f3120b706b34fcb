"""A MUSHRA test as its author writes it (``test.yaml``), parsed and checked before any audio is made.

Every error names the file, the key path (``conditions[2].bitrate_kbps``), what is wrong and
what is allowed, so the author can fix ``test.yaml`` without reading code. Relative paths are
relative to the folder of ``test.yaml``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from codecbench.codecs import get_entry

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
    """

    id_param: str = "PROLIFIC_PID"
    completion_code: str | None = None
    redirect_url: str | None = None
    require_id: bool = True


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
        max_item_duration_s: longer items are refused.
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
        )


def load_test_spec(path: str | Path) -> TestSpec:
    """Read and check ``test.yaml``.

    Raises:
        SpecError: the file is missing, not YAML, or not a valid test; the message says where.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot be read as text ({error}).") from None
    return parse_test_spec(text, base_dir=path.parent, source=str(path))


def parse_test_spec(text: str, *, base_dir: Path, source: str = "test.yaml") -> TestSpec:
    """Parse the text of a ``test.yaml``; relative paths are resolved against ``base_dir``."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise SpecError(f"{source}: not valid YAML: {error}") from None
    reader = _Reader(source)
    top = reader.mapping(document, "", required=True)
    reader.only_keys(top, "", _TOP_LEVEL_KEYS)

    items = _parse_items(reader, top.get("items"), base_dir)
    item_names = None if isinstance(items, TestSetItems) else [item.name for item in items]
    conditions = _parse_conditions(reader, top.get("conditions"), base_dir, item_names)
    anchors = _parse_anchors(reader, top.get("anchors", list(DEFAULT_ANCHORS)))
    crowd = _parse_crowd(reader, top.get("crowd"))

    reserved = sorted({c.name for c in conditions} & set(RESERVED_CONDITION_NAMES))
    if reserved:
        raise SpecError(
            f"{source}: conditions: {', '.join(reserved)} is the name of a condition the test adds "
            "itself; give the system another `name:`."
        )
    names = [c.name for c in conditions] + list(anchors)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(
            f"{source}: conditions: the name(s) {', '.join(duplicates)} are used twice; give each "
            "condition its own `name:` (anchor names are reserved)."
        )
    num_rated = len(names)
    if num_rated > MAX_RATED_STIMULI:
        raise SpecError(
            f"{source}: a trial would have {num_rated} stimuli to rate ({len(conditions)} conditions "
            f"+ {len(anchors)} anchors), more than the {MAX_RATED_STIMULI} ITU-R BS.1534-3 allows. "
            "Split the conditions over two tests, or drop an anchor."
        )

    spec = TestSpec(
        name=reader.string(top.get("name"), "name", required=True),
        items=items,
        conditions=conditions,
        anchors=anchors,
        items_per_participant=reader.positive_int(top.get("items_per_participant"), "items_per_participant"),
        training=reader.boolean(top.get("training"), "training", default=True),
        training_item=reader.string(top.get("training_item"), "training_item"),
        level_check=reader.boolean(top.get("level_check"), "level_check", default=True),
        require_100=reader.boolean(top.get("require_100"), "require_100", default=False),
        min_listen_s=reader.number(top.get("min_listen_s"), "min_listen_s", minimum=0.0, default=0.0),
        loudness_lufs=reader.number(top.get("loudness_lufs"), "loudness_lufs", minimum=-70.0, maximum=0.0,
                                    default=DEFAULT_LOUDNESS_LUFS),
        max_item_duration_s=reader.number(top.get("max_item_duration_s"), "max_item_duration_s", minimum=0.5,
                                          default=DEFAULT_MAX_ITEM_DURATION_S),
        instructions=reader.string(top.get("instructions"), "instructions"),
        crowd=crowd,
        source_text=text,
    )
    if item_names is not None:
        if spec.items_per_participant is not None and spec.items_per_participant > len(item_names):
            raise SpecError(
                f"{source}: items_per_participant is {spec.items_per_participant} but the test has "
                f"only {len(item_names)} items."
            )
        if spec.training_item is not None and spec.training_item not in item_names:
            raise SpecError(
                f"{source}: training_item {spec.training_item!r} is not an item; items are "
                f"{', '.join(item_names)}."
            )
    return _with_design_warnings(spec, len(item_names) if item_names is not None else None)


_TOP_LEVEL_KEYS = (
    "name", "items", "conditions", "anchors", "items_per_participant", "training", "training_item",
    "level_check", "require_100", "min_listen_s", "loudness_lufs", "max_item_duration_s",
    "instructions", "crowd",
)


def _parse_items(reader: _Reader, value: Any, base_dir: Path) -> tuple[FileItem, ...] | TestSetItems:
    if value is None:
        raise SpecError(
            f"{reader.source}: items: missing. List audio files (`- clips/a.wav`, or "
            "`- {name: a, path: clips/a.wav}`), or name a test set (`{test_set: NAME, utterances: [...]}`)."
        )
    if isinstance(value, Mapping):
        reader.only_keys(value, "items", ("test_set", "utterances"))
        utterances = value.get("utterances")
        if not isinstance(utterances, list) or not utterances:
            raise SpecError(f"{reader.source}: items.utterances: list the utterance IDs to use.")
        return TestSetItems(
            test_set=reader.string(value.get("test_set"), "items.test_set", required=True),
            utterances=tuple(reader.string(u, f"items.utterances[{i}]", required=True) for i, u in enumerate(utterances)),
        )
    if not isinstance(value, list) or not value:
        raise SpecError(f"{reader.source}: items: expected a list of audio files.")
    items = []
    for index, entry in enumerate(value):
        where = f"items[{index}]"
        if isinstance(entry, str):
            path = _resolve(base_dir, entry)
            name = path.stem
        else:
            mapping = reader.mapping(entry, where, required=True)
            reader.only_keys(mapping, where, ("name", "path"))
            path = _resolve(base_dir, reader.string(mapping.get("path"), f"{where}.path", required=True))
            name = reader.string(mapping.get("name"), f"{where}.name") or path.stem
        if not path.is_file():
            raise SpecError(f"{reader.source}: {where}: {path}: no such file.")
        items.append(FileItem(name=name, path=path))
    names = [item.name for item in items]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(
            f"{reader.source}: items: the name(s) {', '.join(duplicates)} are used twice (a name "
            "defaults to the file name without extension); give each item its own `name:`."
        )
    return tuple(items)


def _parse_conditions(
    reader: _Reader, value: Any, base_dir: Path, item_names: list[str] | None
) -> tuple[CodecCondition | FileCondition, ...]:
    if not isinstance(value, list) or not value:
        raise SpecError(
            f"{reader.source}: conditions: list at least one system, e.g. `- {{codec: opus, "
            "bitrate_kbps: 6}` or `- {name: mine, files: outputs/{item}.wav}`."
        )
    conditions: list[CodecCondition | FileCondition] = []
    for index, entry in enumerate(value):
        where = f"conditions[{index}]"
        mapping = reader.mapping(entry, where, required=True)
        if "files" in mapping:
            reader.only_keys(mapping, where, ("name", "files", "alignment"))
            conditions.append(_parse_file_condition(reader, mapping, where, base_dir, item_names))
        elif "codec" in mapping:
            reader.only_keys(mapping, where, ("name", "codec", "bitrate_kbps"))
            conditions.append(_parse_codec_condition(reader, mapping, where))
        else:
            raise SpecError(
                f"{reader.source}: {where}: give either `codec:` (with `bitrate_kbps:`) or `files:`."
            )
    return tuple(conditions)


def _parse_codec_condition(reader: _Reader, mapping: Mapping[str, Any], where: str) -> CodecCondition:
    codec = reader.string(mapping.get("codec"), f"{where}.codec", required=True)
    try:
        entry = get_entry(codec)
    except ValueError as error:
        raise SpecError(f"{reader.source}: {where}.codec: {error}") from None
    if entry.spec.family == "anchor":
        raise SpecError(
            f"{reader.source}: {where}.codec: {codec} is a MUSHRA anchor; list it under `anchors:` "
            "so it is screened and reported as one."
        )
    kbps = reader.number(mapping.get("bitrate_kbps"), f"{where}.bitrate_kbps", minimum=0.0)
    try:
        point = entry.spec.operating_point(kbps)
    except ValueError as error:
        raise SpecError(f"{reader.source}: {where}.bitrate_kbps: {error}") from None
    default_name = codec if point.nominal_kbps is None else f"{codec}@{point.nominal_kbps:g}"
    name = reader.string(mapping.get("name"), f"{where}.name") or default_name
    return CodecCondition(name=name, codec=codec, bitrate_kbps=point.nominal_kbps)


def _parse_file_condition(
    reader: _Reader, mapping: Mapping[str, Any], where: str, base_dir: Path, item_names: list[str] | None
) -> FileCondition:
    name = reader.string(mapping.get("name"), f"{where}.name", required=True)
    if item_names is None:
        raise SpecError(
            f"{reader.source}: {where}.files: conditions given as files need items given as files; "
            "with a test set, use codecs from the registry."
        )
    files_value = mapping.get("files")
    files: dict[str, Path] = {}
    if isinstance(files_value, str):
        if "{item}" not in files_value:
            raise SpecError(
                f"{reader.source}: {where}.files: a pattern must contain {{item}} (e.g. "
                "outputs/mine/{item}.wav), or map each item name to a file."
            )
        files = {item: _resolve(base_dir, files_value.replace("{item}", item)) for item in item_names}
    elif isinstance(files_value, Mapping):
        unknown = sorted(set(map(str, files_value)) - set(item_names))
        if unknown:
            raise SpecError(f"{reader.source}: {where}.files: {', '.join(unknown)} are not items.")
        files = {str(k): _resolve(base_dir, reader.string(v, f"{where}.files.{k}", required=True))
                 for k, v in files_value.items()}
    else:
        raise SpecError(f"{reader.source}: {where}.files: a path pattern with {{item}}, or item name -> file.")
    missing_items = [item for item in item_names if item not in files]
    if missing_items:
        raise SpecError(f"{reader.source}: {where}.files: no file for item(s) {', '.join(missing_items)}.")
    for item, path in files.items():
        if not path.is_file():
            raise SpecError(f"{reader.source}: {where}.files: {path} (item {item}): no such file.")
    alignment = reader.string(mapping.get("alignment"), f"{where}.alignment") or "waveform"
    if alignment not in ALIGNMENTS:
        raise SpecError(f"{reader.source}: {where}.alignment: {alignment!r}; choose one of {', '.join(ALIGNMENTS)}.")
    return FileCondition(name=name, files=files, alignment=alignment)


def _parse_anchors(reader: _Reader, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise SpecError(f"{reader.source}: anchors: expected a list, e.g. [{', '.join(DEFAULT_ANCHORS)}].")
    anchors = []
    for index, entry in enumerate(value):
        if entry not in ANCHOR_KINDS:
            raise SpecError(
                f"{reader.source}: anchors[{index}]: {entry!r} is not an anchor; choose from "
                f"{', '.join(ANCHOR_KINDS)}."
            )
        if entry in anchors:
            raise SpecError(f"{reader.source}: anchors: {entry} is listed twice.")
        anchors.append(entry)
    return tuple(anchors)


def _parse_crowd(reader: _Reader, value: Any) -> CrowdSettings | None:
    if value is None:
        return None
    mapping = reader.mapping(value, "crowd", required=True)
    reader.only_keys(mapping, "crowd", ("id_param", "completion_code", "redirect_url", "require_id"))
    id_param = reader.string(mapping.get("id_param"), "crowd.id_param") or "PROLIFIC_PID"
    if id_param in RESERVED_LINK_PARAMS:
        raise SpecError(f"{reader.source}: crowd.id_param: {id_param!r} is used by the link itself; pick another.")
    redirect_url = reader.string(mapping.get("redirect_url"), "crowd.redirect_url")
    if redirect_url is not None and not redirect_url.startswith(("https://", "http://")):
        raise SpecError(f"{reader.source}: crowd.redirect_url: must start with https:// or http://.")
    return CrowdSettings(
        id_param=id_param,
        completion_code=reader.string(mapping.get("completion_code"), "crowd.completion_code"),
        redirect_url=redirect_url,
        require_id=reader.boolean(mapping.get("require_id"), "crowd.require_id", default=True),
    )


def _with_design_warnings(spec: TestSpec, num_items: int | None) -> TestSpec:
    """Add BS.1534-3 design advice that does not stop the test from being made."""
    warnings = []
    if "hidden_reference" not in spec.anchors:
        warnings.append("no hidden reference: BS.1534-3 post-screening and both screening rules need it.")
    if num_items is not None:
        wanted = max(5, math.ceil(1.5 * len(spec.conditions)))
        if num_items < wanted:
            warnings.append(
                f"{num_items} item(s) for {len(spec.conditions)} condition(s); BS.1534-3 suggests about "
                f"1.5 x as many items as systems, at least 5 (here {wanted})."
            )
    if not spec.training:
        warnings.append("no training trial: BS.1534-3 makes a training phase mandatory.")
    return replace(spec, warnings=tuple(warnings))


def _resolve(base_dir: Path, text: str) -> Path:
    path = Path(text).expanduser()
    return path if path.is_absolute() else (base_dir / path).resolve()


@dataclass(frozen=True)
class _Reader:
    """Typed access to YAML values with messages that name the file and the key."""

    source: str

    def fail(self, where: str, problem: str) -> SpecError:
        return SpecError(f"{self.source}: {where or 'top level'}: {problem}")

    def mapping(self, value: Any, where: str, *, required: bool = False) -> Mapping[str, Any]:
        if value is None and not required:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping of keys to values, got {type(value).__name__}.")
        return value

    def only_keys(self, mapping: Mapping[str, Any], where: str, allowed: tuple[str, ...]) -> None:
        unknown = [str(key) for key in mapping if key not in allowed]
        if unknown:
            raise self.fail(where, f"unknown key(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}.")

    def string(self, value: Any, where: str, *, required: bool = False) -> str | None:
        if value is None:
            if required:
                raise self.fail(where, "missing.")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(where, f"expected text, got {type(value).__name__}.")
        text = str(value).strip()
        if required and not text:
            raise self.fail(where, "is empty.")
        return text or None

    def boolean(self, value: Any, where: str, *, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {value!r}.")
        return value

    def number(
        self, value: Any, where: str, *, minimum: float | None = None, maximum: float | None = None,
        default: float | None = None,
    ) -> float | None:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(where, f"expected a number, got {value!r}.")
        if minimum is not None and value < minimum:
            raise self.fail(where, f"{value} is below the minimum {minimum:g}.")
        if maximum is not None and value > maximum:
            raise self.fail(where, f"{value} is above the maximum {maximum:g}.")
        return float(value)

    def positive_int(self, value: Any, where: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(where, f"expected a whole number of at least 1, got {value!r}.")
        return value
