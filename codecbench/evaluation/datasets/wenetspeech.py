"""WenetSpeech TEST_NET and TEST_MEETING (and DEV): segments of long Opus recordings.

Layout, after decrypting and unpacking the download: ``<root>/WenetSpeech.json`` beside
``audio/{test_net/youtube,test_meeting/third_party,...}/B000NN/<aid>.opus``. A segment belongs
to a test set when its ``subsets`` name it. Spans are delivered at 16 kHz, the rate the
corpus's recipes (Kaldi, lhotse) use.
"""

from __future__ import annotations

from pathlib import Path

from codecbench.evaluation.datasets.longform import LongFormCorpus, load_longform
from codecbench.evaluation.datasets.utterance import CorpusListing

WENETSPEECH = LongFormCorpus(
    name="WenetSpeech",
    json_name="WenetSpeech.json",
    evaluation_subsets=frozenset({"TEST_NET", "TEST_MEETING", "DEV"}),
    text_key="text",
    language="zh",
    layout_hint=(
        "Give the folder the download was unpacked to (openssl aes-256-cbc -d ... | tar xz), "
        "holding WenetSpeech.json and audio/."
    ),
)


def load_wenetspeech(root: Path, subset: str) -> CorpusListing:
    """Utterances of a WenetSpeech subset (``TEST_NET``, ``TEST_MEETING`` or ``DEV``)."""
    return load_longform(WENETSPEECH, root, subset)
