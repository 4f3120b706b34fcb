"""Named test sets, the ``--testset`` spec, and loading a test set from its spec.

``NAME=ROOT`` loads a named test set (``librispeech-test-clean=/data/LibriSpeech``);
``NAME=wavscp:PATH`` and ``NAME=folder:PATH`` load the user's own data under the name NAME.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from codecbench.evaluation.datasets.aishell1 import load_aishell1
from codecbench.evaluation.datasets.aishell2 import load_aishell2
from codecbench.evaluation.datasets.folder import load_folder
from codecbench.evaluation.datasets.gigaspeech import load_gigaspeech
from codecbench.evaluation.datasets.kaldi import load_wavscp
from codecbench.evaluation.datasets.librispeech import load_librispeech
from codecbench.evaluation.datasets.sampling import draw_sample
from codecbench.evaluation.datasets.utterance import CorpusListing, TestSet, TestSetError
from codecbench.evaluation.datasets.wenetspeech import load_wenetspeech

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


@dataclass(frozen=True)
class TestSetKind:
    """A way to load a test set: a named public test set, or a generic format.

    Args:
        name: ``librispeech-test-clean``, ..., or ``wavscp`` / ``folder``.
        description: one line for listings.
        root_hint: what the ROOT (or PATH) must be, for help and error messages.
        load: lists the utterances under a root.
    """

    __test__ = False  # not a pytest test class

    name: str
    description: str
    root_hint: str
    load: Callable[[Path], CorpusListing]

    @property
    def is_generic(self) -> bool:
        return self.name in GENERIC_KINDS


_LIBRISPEECH_ROOT = "the LibriSpeech folder (holding {part}/) or its parent"
_AISHELL2_ROOT = "the AISHELL-DEV-TEST-SET folder (holding {channel}/test/wav.scp or {channel}/test.tar.gz) or its parent"

NAMED_TESTSETS: dict[str, TestSetKind] = {
    kind.name: kind
    for kind in (
        TestSetKind("librispeech-test-clean", "LibriSpeech test-clean (English, read; 2620 utterances)",
                    _LIBRISPEECH_ROOT.format(part="test-clean"), partial(load_librispeech, part="test-clean")),
        TestSetKind("librispeech-test-other", "LibriSpeech test-other (English, read; 2939 utterances)",
                    _LIBRISPEECH_ROOT.format(part="test-other"), partial(load_librispeech, part="test-other")),
        TestSetKind("aishell1-test", "AISHELL-1 test (Mandarin, read; 7176 utterances)",
                    "the folder holding data_aishell (wav/ unpacked or as per-speaker .tar.gz, transcript/)",
                    partial(load_aishell1, part="test")),
        TestSetKind("aishell2-test-ios", "AISHELL-2 test, iOS channel (Mandarin; 5000 utterances)",
                    _AISHELL2_ROOT.format(channel="iOS"), partial(load_aishell2, channel="iOS")),
        TestSetKind("aishell2-test-android", "AISHELL-2 test, Android channel (Mandarin; 5000 utterances)",
                    _AISHELL2_ROOT.format(channel="Android"), partial(load_aishell2, channel="Android")),
        TestSetKind("aishell2-test-mic", "AISHELL-2 test, microphone channel (Mandarin; 5000 utterances)",
                    _AISHELL2_ROOT.format(channel="Mic"), partial(load_aishell2, channel="Mic")),
        TestSetKind("wenetspeech-test-net", "WenetSpeech TEST_NET (Mandarin, internet; 24774 segments)",
                    "the unpacked WenetSpeech folder (holding WenetSpeech.json and audio/)",
                    partial(load_wenetspeech, subset="TEST_NET")),
        TestSetKind("wenetspeech-test-meeting", "WenetSpeech TEST_MEETING (Mandarin, meetings; 8370 segments)",
                    "the unpacked WenetSpeech folder (holding WenetSpeech.json and audio/)",
                    partial(load_wenetspeech, subset="TEST_MEETING")),
        TestSetKind("gigaspeech-test", "GigaSpeech TEST (English, podcasts and YouTube; garbage segments left out)",
                    "the GigaSpeech folder (holding GigaSpeech.json and audio/)",
                    partial(load_gigaspeech, subset="TEST")),
    )
}

GENERIC_KINDS: dict[str, TestSetKind] = {
    "wavscp": TestSetKind("wavscp", "a Kaldi wav.scp (with segments, text, utt2spk beside it) or FunCodec input_wav.scp",
                          "a wav.scp file, or the folder holding it", load_wavscp),
    "folder": TestSetKind("folder", "every audio file under a folder", "a folder of audio files", load_folder),
}


@dataclass(frozen=True)
class TestSetSpec:
    """What ``--testset`` says: the test set's name, how to load it, and from where."""

    __test__ = False  # not a pytest test class

    name: str
    kind: str
    path: Path

    def __post_init__(self) -> None:
        if self.kind not in NAMED_TESTSETS and self.kind not in GENERIC_KINDS:
            raise ValueError(f"unknown test set kind {self.kind!r}; expected one of {', '.join([*NAMED_TESTSETS, *GENERIC_KINDS])}")

    @property
    def loader(self) -> TestSetKind:
        return NAMED_TESTSETS.get(self.kind) or GENERIC_KINDS[self.kind]

    def __str__(self) -> str:
        if self.kind in GENERIC_KINDS:
            return f"{self.name}={self.kind}:{self.path}"
        return f"{self.name}={self.path}"


def parse_testset_spec(text: str) -> TestSetSpec:
    """Parse ``NAME=ROOT`` (a named test set) or ``NAME=wavscp:PATH`` / ``NAME=folder:PATH``.

    Raises:
        TestSetError: the text is not one of those forms, or names no known test set.
    """
    name, separator, value = text.strip().partition("=")
    name, value = name.strip(), value.strip()
    custom = "for your own data use NAME=wavscp:PATH or NAME=folder:PATH"
    if not separator:
        if name in NAMED_TESTSETS:
            raise TestSetError(f"--testset {name}: give its root too: {name}=ROOT, ROOT being {NAMED_TESTSETS[name].root_hint}.")
        raise TestSetError(f"--testset {text!r}: expected NAME=ROOT with NAME one of {_named_list()}; {custom}.")
    generic, colon, path = value.partition(":")
    if colon and generic in GENERIC_KINDS:
        if name in NAMED_TESTSETS:
            raise TestSetError(
                f"--testset {text!r}: '{name}' is a named test set, loaded from its root ({name}=ROOT); "
                f"give your {generic} another name."
            )
        if not _NAME.match(name):
            raise TestSetError(
                f"--testset {text!r}: the name {name!r} must start with a letter or digit and hold only "
                "letters, digits, '.', '_' and '-'."
            )
        kind, value = generic, path.strip()
    elif name in NAMED_TESTSETS:
        kind = name
    else:
        raise TestSetError(f"--testset {text!r}: unknown test set {name!r}; named test sets are {_named_list()}; {custom}.")
    if not value:
        hint = NAMED_TESTSETS.get(kind, GENERIC_KINDS.get(kind)).root_hint
        raise TestSetError(f"--testset {text!r}: the path is empty; expected {hint}.")
    return TestSetSpec(name, kind, Path(value).expanduser())


def load_testset(spec: TestSetSpec | str, *, limit: int | None = None, seed: int = 0) -> TestSet:
    """Index a test set (no audio is decoded) and, with ``limit``, draw a reproducible sample.

    Raises:
        TestSetError: the root is missing or does not hold the test set. Missing or unusable
            single files are not errors: they are in the result's ``skipped``.
    """
    if isinstance(spec, str):
        spec = parse_testset_spec(spec)
    kind = spec.loader
    root = spec.path.absolute()  # sources are stored, and must not depend on the current folder
    if not root.exists():
        raise TestSetError(f"{spec.name}: no such file or folder {root}; expected {kind.root_hint}.")
    listing = kind.load(root)
    testset = TestSet(
        name=spec.name,
        kind=spec.kind,
        root=root,
        utterances=listing.utterances,
        skipped=listing.skipped,
        total_utterances=len(listing.utterances),
    )
    return testset if limit is None else draw_sample(testset, limit, seed)


def _named_list() -> str:
    return ", ".join(NAMED_TESTSETS)
