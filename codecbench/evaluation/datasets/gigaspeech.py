"""GigaSpeech TEST (and DEV): segments of long Opus recordings, without the garbage segments.

Layout: ``<root>/GigaSpeech.json`` beside ``audio/{audiobook,podcast,youtube}/P0000/<aid>.opus``.
A segment belongs to TEST when its ``subsets`` hold ``{TEST}``. The evaluation sets are
annotated without gaps, so silence, music, noise and other non-speech get segments of their
own, tagged ``<SIL>``, ``<MUSIC>``, ``<NOISE>``, ``<OTHER>``; as GigaSpeech's own tools do,
those are left out (after its four punctuation tags are removed). Texts are ``text_tn`` as
given, punctuation tags included.
"""

from __future__ import annotations

from pathlib import Path

from codecbench.evaluation.datasets.longform import LongFormCorpus, load_longform
from codecbench.evaluation.datasets.utterance import CorpusListing

GARBAGE_TAGS = frozenset({"<SIL>", "<MUSIC>", "<NOISE>", "<OTHER>"})
PUNCTUATION_TAGS = ("<COMMA>", "<PERIOD>", "<QUESTIONMARK>", "<EXCLAMATIONPOINT>")


def is_garbage_text(text: str) -> bool:
    """True for a GigaSpeech garbage segment (its text, without punctuation tags, is one garbage tag)."""
    for tag in PUNCTUATION_TAGS:
        text = text.replace(tag, " ")
    return " ".join(text.split()) in GARBAGE_TAGS


GIGASPEECH = LongFormCorpus(
    name="GigaSpeech",
    json_name="GigaSpeech.json",
    evaluation_subsets=frozenset({"TEST", "DEV"}),
    text_key="text_tn",
    language="en",
    speaker_key="speaker",
    is_garbage=is_garbage_text,
    layout_hint="Give the GigaSpeech download folder, holding GigaSpeech.json and audio/.",
)


def load_gigaspeech(root: Path, subset: str = "TEST") -> CorpusListing:
    """Utterances of a GigaSpeech evaluation subset (``TEST`` or ``DEV``)."""
    return load_longform(GIGASPEECH, root, subset)
