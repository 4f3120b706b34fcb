"""Reading ``test.yaml`` into a :class:`TestSpec`, checked before any audio is made.

Every error names the file, the key path (``conditions[2].bitrate_kbps``), what is wrong and
what is allowed, so the author can fix ``test.yaml`` without reading code. Relative paths are
relative to the folder of ``test.yaml``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from codecbench.codecs import get_entry
from codecbench.listening_test.bounded_yaml import YamlBoundsError, listed, load_bounded_yaml, quoted, shown
from codecbench.listening_test.spec import (
    ALIGNMENTS,
    ANCHOR_KINDS,
    DEFAULT_ANCHORS,
    DEFAULT_LOUDNESS_LUFS,
    DEFAULT_MAX_ITEM_DURATION_S,
    MAX_RATED_STIMULI,
    RESERVED_CONDITION_NAMES,
    RESERVED_LINK_PARAMS,
    CodecCondition,
    CrowdSettings,
    FileCondition,
    FileItem,
    SpecError,
    TestSetItems,
    TestSpec,
)

#: A test.yaml longer than this is refused unread (a test lists its items, or names a test set).
MAX_SPEC_BYTES = 1024 * 1024
#: Longest public title (one line in the participant page's heading).
MAX_TITLE_CHARS = 120
#: Longest consent text (Markdown shown before the test).
MAX_CONSENT_CHARS = 20_000
#: Longest name (test, item, condition, codec, ...), and longest file path: what the database's
#: columns hold (PostgreSQL refuses longer text; SQLite would keep it).
MAX_NAME_CHARS = 200
MAX_PATH_CHARS = 2000
#: Longest completion code (the column of each session's code).
MAX_COMPLETION_CODE_CHARS = 64


def load_test_spec(path: str | Path, *, allow_outside_paths: bool = False) -> TestSpec:
    """Read and check ``test.yaml``; its files must lie in its folder unless
    ``allow_outside_paths``.

    Raises:
        SpecError: the file is missing, not YAML, or not a valid test; the message says where.
    """
    path = Path(path)
    try:
        if path.is_dir():
            raise SpecError(f"{path}: is a folder; give the test's YAML file.")
        if path.stat().st_size > MAX_SPEC_BYTES:
            raise SpecError(f"{path}: is {path.stat().st_size} bytes; a test.yaml is at most {MAX_SPEC_BYTES} bytes "
                            "(list many items by test set: `items: {testset: NAME, ...}`).")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: no such file.") from None
    except (OSError, UnicodeDecodeError) as error:
        raise SpecError(f"{path}: cannot be read as text ({error}).") from None
    return parse_test_spec(text, base_dir=path.parent, source=str(path), allow_outside_paths=allow_outside_paths)


def parse_test_spec(text: str, *, base_dir: Path, source: str = "test.yaml", allow_outside_paths: bool = False) -> TestSpec:
    """Parse the text of a ``test.yaml``; relative paths are resolved against ``base_dir``, and
    every file must lie in it unless ``allow_outside_paths``."""
    try:
        document = load_bounded_yaml(text)  # aliases and nesting bounded before anything is built
    except YamlBoundsError as error:
        raise SpecError(f"{source}: {error}") from None
    reader = _Reader(source, base_dir, allow_outside_paths)
    top = reader.mapping(document, "", required=True)
    reader.only_keys(top, "", _TOP_LEVEL_KEYS)

    items = _parse_items(reader, top.get("items"))
    item_names = None if isinstance(items, TestSetItems) else [item.name for item in items]
    conditions = _parse_conditions(reader, top.get("conditions"), item_names)
    anchors = _parse_anchors(reader, top.get("anchors", list(DEFAULT_ANCHORS)))
    crowd = _parse_crowd(reader, top.get("crowd"))

    reserved = sorted({c.name for c in conditions} & set(RESERVED_CONDITION_NAMES))
    if reserved:
        raise SpecError(
            f"{source}: conditions: {listed(reserved)} is the name of a condition the test adds "
            "itself; give the system another `name:`."
        )
    names = [c.name for c in conditions] + list(anchors)
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(
            f"{source}: conditions: the name(s) {listed(duplicates)} are used twice; give each "
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
        instructions=reader.string(top.get("instructions"), "instructions", max_chars=None),
        crowd=crowd,
        title=reader.string(top.get("title"), "title", max_chars=MAX_TITLE_CHARS),
        headphone_check=reader.boolean(top.get("headphone_check"), "headphone_check", default=False),
        consent=reader.string(top.get("consent"), "consent", max_chars=MAX_CONSENT_CHARS),
        questionnaire=reader.boolean(top.get("questionnaire"), "questionnaire", default=False),
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
                f"{source}: training_item {quoted(spec.training_item)} is not an item; items are "
                f"{listed(item_names)}."
            )
    return _with_design_warnings(spec, len(item_names) if item_names is not None else None)


_TOP_LEVEL_KEYS = (
    "name", "items", "conditions", "anchors", "items_per_participant", "training", "training_item",
    "level_check", "require_100", "min_listen_s", "loudness_lufs", "max_item_duration_s",
    "instructions", "crowd", "title", "headphone_check", "consent", "questionnaire",
)


def _parse_items(reader: _Reader, value: Any) -> tuple[FileItem, ...] | TestSetItems:
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
            path = reader.file(entry, where)
            name = path.stem
        else:
            mapping = reader.mapping(entry, where, required=True)
            reader.only_keys(mapping, where, ("name", "path"))
            path = reader.file(reader.string(mapping.get("path"), f"{where}.path", required=True,
                                             max_chars=MAX_PATH_CHARS), f"{where}.path")
            name = reader.string(mapping.get("name"), f"{where}.name") or path.stem
        if len(name) > MAX_NAME_CHARS:
            raise reader.fail(where, f"the item's name {quoted(name)} (its file name) is {len(name)} characters long; "
                              f"give it a `name:` of at most {MAX_NAME_CHARS}.")
        items.append(FileItem(name=name, path=path))
    names = [item.name for item in items]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise SpecError(
            f"{reader.source}: items: the name(s) {listed(duplicates)} are used twice (a name "
            "defaults to the file name without extension); give each item its own `name:`."
        )
    return tuple(items)


def _parse_conditions(
    reader: _Reader, value: Any, item_names: list[str] | None
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
            conditions.append(_parse_file_condition(reader, mapping, where, item_names))
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
    reader: _Reader, mapping: Mapping[str, Any], where: str, item_names: list[str] | None
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
        files = {item: reader.file(files_value.replace("{item}", item), f"{where}.files", item=item) for item in item_names}
    elif isinstance(files_value, Mapping):
        unknown = sorted(set(map(str, files_value)) - set(item_names))
        if unknown:
            raise SpecError(f"{reader.source}: {where}.files: {listed(unknown)} are not items; items are {listed(item_names)}.")
        files = {str(k): reader.file(reader.string(v, f"{where}.files.{k}", required=True, max_chars=MAX_PATH_CHARS),
                                     f"{where}.files", item=str(k))
                 for k, v in files_value.items()}
    else:
        raise SpecError(f"{reader.source}: {where}.files: a path pattern with {{item}}, or item name -> file.")
    missing_items = [item for item in item_names if item not in files]
    if missing_items:
        raise SpecError(f"{reader.source}: {where}.files: no file for item(s) {listed(missing_items)}.")
    alignment = reader.string(mapping.get("alignment"), f"{where}.alignment") or "waveform"
    if alignment not in ALIGNMENTS:
        raise SpecError(f"{reader.source}: {where}.alignment: {quoted(alignment)}; choose one of {', '.join(ALIGNMENTS)}.")
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
                f"{reader.source}: anchors[{index}]: {quoted(entry)} is not an anchor; choose from "
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
    reader.only_keys(mapping, "crowd", ("id_param", "completion_code", "redirect_url", "require_id",
                                        "new_sessions_per_minute", "sessions_per_address_per_hour"))
    id_param = reader.string(mapping.get("id_param"), "crowd.id_param") or "PROLIFIC_PID"
    if id_param in RESERVED_LINK_PARAMS:
        raise SpecError(f"{reader.source}: crowd.id_param: {quoted(id_param)} is used by the link itself; pick another.")
    redirect_url = reader.string(mapping.get("redirect_url"), "crowd.redirect_url", max_chars=MAX_PATH_CHARS)
    if redirect_url is not None and not redirect_url.startswith(("https://", "http://")):
        raise SpecError(f"{reader.source}: crowd.redirect_url: must start with https:// or http://.")
    return CrowdSettings(
        id_param=id_param,
        completion_code=reader.string(mapping.get("completion_code"), "crowd.completion_code",
                                      max_chars=MAX_COMPLETION_CODE_CHARS),
        redirect_url=redirect_url,
        require_id=reader.boolean(mapping.get("require_id"), "crowd.require_id", default=True),
        new_sessions_per_minute=reader.positive_int(mapping.get("new_sessions_per_minute"),
                                                    "crowd.new_sessions_per_minute")
        or CrowdSettings.new_sessions_per_minute,
        sessions_per_address_per_hour=reader.positive_int(mapping.get("sessions_per_address_per_hour"),
                                                          "crowd.sessions_per_address_per_hour")
        or CrowdSettings.sessions_per_address_per_hour,
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
    warnings += blinding_warnings(spec)
    return replace(spec, warnings=tuple(warnings))


def blinding_warnings(spec: TestSpec) -> list[str]:
    """Warn when text participants see (``title``, ``instructions``) names what is tested.

    The internal ``name`` is not shown to participants, but a test without a ``title`` used to
    show it; a name that names a condition is flagged too, with the advice to add a ``title``.
    """
    words = set()
    for condition in spec.conditions:
        words.add(condition.name)
        if isinstance(condition, CodecCondition):
            words.add(condition.codec)
    words = {w for w in words if len(w) >= 3}
    warnings = []
    shown = (("title", spec.title), ("instructions", spec.instructions), ("consent", spec.consent))
    for key, text in shown:
        hits = _mentioned(words, text)
        if hits:
            warnings.append(
                f"{key} mentions {listed(hits)}, which participants see: it tells them what is "
                f"tested and can bias their ratings. Reword the {key}."
            )
    hits = _mentioned(words, spec.name)
    if hits and spec.title is None:
        warnings.append(
            f"name mentions {listed(hits)}; the name is internal, so add a neutral `title:` "
            "(shown to participants instead of the generic \"Listening test\")."
        )
    return warnings


def _mentioned(words: set[str], text: str | None) -> list[str]:
    if not text:
        return []
    normal = _loose(text)
    return sorted(w for w in words if _loose(w) and _loose(w) in normal)


def _loose(text: str) -> str:
    """Lower case with separators dropped, so "Codec 2" matches the codec ``codec2``."""
    return re.sub(r"[\s_\-.]+", "", text.lower())


@dataclass(frozen=True)
class _Reader:
    """Typed access to YAML values with messages that name the file and the key."""

    source: str
    base_dir: Path = Path(".")
    allow_outside_paths: bool = False

    def file(self, text: str, where: str, *, item: str | None = None) -> Path:
        """A file named in test.yaml (for ``item``): relative to its folder, existing, and inside
        the folder (symbolic links followed) unless outside paths are allowed, so that a test.yaml
        from elsewhere cannot make the server read (and serve to participants) any file it can reach."""
        about = quoted(text) + (f" (item {shown(item)})" if item is not None else "")
        try:
            path = (self.base_dir / Path(text).expanduser()).resolve()
            folder = self.base_dir.resolve()
        except (OSError, RuntimeError, ValueError) as error:  # ~nobody/x.wav, a NUL byte, a name too long
            raise self.fail(where, f"{about} is not a usable path ({error}).") from None
        if not self.allow_outside_paths and not path.is_relative_to(folder):
            leads_to = f" (that is {shown(path, limit=300)})" if str(path) != text else ""  # ../x.wav, a link
            raise self.fail(where, f"{about}{leads_to} is outside the test's folder {folder}; move the file into "
                            "that folder, or pass --allow-outside-paths to `codecbench mushra create` if you mean it.")
        about = shown(path, limit=300) + (f" (item {shown(item)})" if item is not None else "")
        if len(str(path)) > MAX_PATH_CHARS:
            raise self.fail(where, f"{about}: the path is {len(str(path))} characters long; codecbench stores at most "
                            f"{MAX_PATH_CHARS}: move the file to a shorter path.")
        try:
            if not path.is_file():
                raise self.fail(where, f"{about}: " + ("is a folder; name an audio file." if path.is_dir() else "no such file."))
        except OSError as error:
            raise self.fail(where, f"{about}: cannot be opened ({error.strerror}).") from None
        return path

    def fail(self, where: str, problem: str) -> SpecError:
        return SpecError(f"{self.source}: {where or 'top level'}: {problem}")

    def mapping(self, value: Any, where: str, *, required: bool = False) -> Mapping[str, Any]:
        if value is None and not required:
            return {}
        if not isinstance(value, Mapping):
            raise self.fail(where, f"expected a mapping of keys to values, got {type(value).__name__}.")
        return value

    def only_keys(self, mapping: Mapping[str, Any], where: str, allowed: tuple[str, ...]) -> None:
        unknown = [key for key in mapping if key not in allowed]
        if unknown:
            raise self.fail(where, f"unknown key(s) {listed(unknown)}; allowed: {', '.join(allowed)}.")

    def string(
        self, value: Any, where: str, *, required: bool = False, max_chars: int | None = MAX_NAME_CHARS
    ) -> str | None:
        """Text of at most ``max_chars`` characters (``None``: any length)."""
        if value is None:
            if required:
                raise self.fail(where, "missing.")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise self.fail(where, f"expected text, got {type(value).__name__}.")
        text = str(value).strip()
        if required and not text:
            raise self.fail(where, "is empty.")
        if max_chars is not None and len(text) > max_chars:
            raise self.fail(where, f"{quoted(text)} is {len(text)} characters long; it may have at most {max_chars}: shorten it.")
        return text or None

    def boolean(self, value: Any, where: str, *, default: bool) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            raise self.fail(where, f"expected true or false, got {quoted(value)}.")
        return value

    def number(
        self, value: Any, where: str, *, minimum: float | None = None, maximum: float | None = None,
        default: float | None = None,
    ) -> float | None:
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(where, f"expected a number, got {quoted(value)}.")
        if minimum is not None and value < minimum:
            raise self.fail(where, f"{value} is below the minimum {minimum:g}.")
        if maximum is not None and value > maximum:
            raise self.fail(where, f"{value} is above the maximum {maximum:g}.")
        return float(value)

    def positive_int(self, value: Any, where: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(where, f"expected a whole number of at least 1, got {quoted(value)}.")
        return value
