"""Published result tables that ``codecbench reproduce`` checks, as data.

A table is what a paper or model card printed: one model, a few operating points, one metric
under one protocol, and a value per test set and operating point. Each entry says where it
comes from (with the URL), which codecbench codec and operating points run the model, which
codecbench test set each published row is (and why, where the name alone does not say), and
which metric protocol reproduces the authors' measurement (and why). Adding another table is
adding one :class:`PublishedTable` to :data:`PUBLISHED_TABLES`.

Nothing here runs anything; :mod:`codecbench.evaluation.reproduce` does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from codecbench.evaluation.datasets.registry import NAMED_TESTSETS


class UnknownTableError(ValueError):
    """No published table has the asked name; the message lists the known ones."""


@dataclass(frozen=True)
class PublishedSource:
    """Where a table was published.

    Args:
        kind: ``model card`` or ``paper``.
        title: the model card's repository or the paper's title.
        url: where to read it.
    """

    kind: str
    title: str
    url: str

    def __post_init__(self) -> None:
        if self.kind not in ("model card", "paper"):
            raise ValueError(f"source kind {self.kind!r} is not 'model card' or 'paper'")
        if not self.url.startswith("https://"):
            raise ValueError(f"source {self.title!r}: give its https:// URL, got {self.url!r}")


@dataclass(frozen=True)
class PublishedPoint:
    """One operating point of a table: its column as published, and the codecbench bitrate
    that runs it (``--codec CODEC@KBPS``).

    Args:
        label: the column as published (``100 tokens/s``).
        kbps: the codecbench operating point that is the same setting.
        tokens_per_second: the token rate the column names, checked against the codec's
            operating point (``None`` for codecs without tokens).
    """

    label: str
    kbps: float
    tokens_per_second: float | None = None

    def __post_init__(self) -> None:
        if not self.kbps > 0:
            raise ValueError(f"operating point {self.label!r}: kbps must be > 0, got {self.kbps}")


@dataclass(frozen=True)
class PublishedRow:
    """One published row: a test set and its value at each of the table's operating points.

    Args:
        testset: the codecbench named test set that is this row (``codecbench testsets``).
        published_as: the row's name in the source (``wenet test``).
        values: one value per operating point of the table, in the table's order.
        note: why ``published_as`` is ``testset`` when the name alone does not say, and what
            is known to differ.
    """

    testset: str
    published_as: str
    values: tuple[float, ...]
    note: str = ""

    def __post_init__(self) -> None:
        if self.testset not in NAMED_TESTSETS:
            raise ValueError(f"row {self.published_as!r}: {self.testset!r} is not a named test set; "
                             f"expected one of {', '.join(NAMED_TESTSETS)}")
        if not all(math.isfinite(value) for value in self.values):
            raise ValueError(f"row {self.published_as!r}: every published value must be a number, got {self.values}")


@dataclass(frozen=True)
class PublishedTable:
    """A published table of one model's scores per test set and operating point.

    Args:
        name: how ``codecbench reproduce NAME`` calls it.
        source: where it was published.
        codec: the codecbench codec that runs the published model (``codecbench codecs``).
        points: the table's operating points (its columns), in order.
        metric, protocol: the metric and protocol as codecbench stores them; the protocol is
            the one that measures what the authors measured.
        protocol_reason: why that protocol: how the authors ran the metric.
        rows: the published rows.
        decimals: how many decimals the source prints its values with.
    """

    name: str
    source: PublishedSource
    codec: str
    points: tuple[PublishedPoint, ...]
    metric: str
    protocol: str
    protocol_reason: str
    rows: tuple[PublishedRow, ...]
    decimals: int = 2

    def __post_init__(self) -> None:
        if not self.points or not self.rows:
            raise ValueError(f"table {self.name!r} needs at least one operating point and one row")
        for row in self.rows:
            if len(row.values) != len(self.points):
                raise ValueError(f"table {self.name!r}, row {row.published_as!r}: {len(row.values)} value(s) for "
                                 f"{len(self.points)} operating point(s)")
        testsets = [row.testset for row in self.rows]
        duplicates = sorted({name for name in testsets if testsets.count(name) > 1})
        if duplicates:
            raise ValueError(f"table {self.name!r} maps several rows to {', '.join(duplicates)}")
        kbps = [point.kbps for point in self.points]
        if len(set(kbps)) != len(kbps):
            raise ValueError(f"table {self.name!r} lists an operating point twice")

    @property
    def testsets(self) -> tuple[str, ...]:
        return tuple(row.testset for row in self.rows)

    def row(self, testset: str) -> PublishedRow:
        """The row of a codecbench test set.

        Raises:
            ValueError: the table has no row for it; the message lists its rows.
        """
        for row in self.rows:
            if row.testset == testset:
                return row
        raise ValueError(f"table {self.name} has no row for test set {testset!r}; its rows are "
                         f"{', '.join(self.testsets)}")

    def format_value(self, value: float) -> str:
        """A value as the source prints it (``3.70``)."""
        return f"{value:.{self.decimals}f}"

    def describe(self) -> str:
        """Several lines for ``codecbench reproduce --list``: source, model, metric, rows and their notes."""
        points = ", ".join(f"{point.label} = {self.codec}@{point.kbps:g}" for point in self.points)
        lines = [
            self.name,
            f"    source: {self.source.kind}, {self.source.title}: {self.source.url}",
            f"    model: {self.codec}; operating points: {points}",
            f"    metric: {self.metric}, protocol {self.protocol}: {self.protocol_reason}",
            "    rows (published as -> --testset NAME=ROOT):",
        ]
        for row in self.rows:
            values = " / ".join(self.format_value(value) for value in row.values)
            lines.append(f"      {row.published_as} -> {row.testset}: {values}")
            if row.note:
                lines.append(f"        note: {row.note}")
        return "\n".join(lines)


_FUNCODEC_CARD = "https://huggingface.co/alibaba-damo/audio_codec-encodec-en-libritts-16k-nq32ds640-pytorch"
_FUNCODEC_RECIPE = "FunCodec's recipe (egs/LibriTTS/codec/run.sh)"

# Why audio-native: stages 2 and 5-7 of FunCodec's recipe resample every test set to 16 kHz wav
# files and score them with Google's ViSQOL v3 container in its default (audio) mode.
_FUNCODEC_PROTOCOL_REASON = (
    f"{_FUNCODEC_RECIPE} resamples each test set to 16 kHz wav files and scores them with Google's ViSQOL "
    "(the jonashaag/visqol:v3 container) in its default audio mode, averaging MOS-LQO over utterances: "
    "audio mode run on the 16 kHz files themselves, which is codecbench's audio-native protocol "
    "(speech mode, or audio mode at 48 kHz, give other numbers for the same audio). audio-native runs at "
    "each reference's own rate, so it matches the recipe on the 16 kHz corpora; a test set stored at "
    "another rate is scored at that rate."
)

_WENET_NOTE = (
    "WenetSpeech has two test sets, TEST_NET and TEST_MEETING, and none called 'test'; FunCodec's code, "
    "recipes and README do not say which one the card used. The same Alibaba DAMO speech lab's FunASR "
    "names TEST_MEETING 'test': its Paraformer-large results (FunASR, egs_modelscope/asr/paraformer/"
    "speech_paraformer-large_asr_nat-zh-cn-16k-common-vocab8404-pytorch/RESULTS.md) list WenetSpeech "
    "'dev 3.57, test 6.97, test_net 6.74', and that model's ModelScope card lists the same numbers as "
    "'dev 3.57, test_meeting 6.97, test_net 6.74'. So this row runs wenetspeech-test-meeting; that is "
    "inferred from the lab's naming, not confirmed by FunCodec's authors (run wenetspeech-test-net with "
    "`codecbench evaluate` to compare)."
)

def _librispeech_note(part: str) -> str:
    return (f"{_FUNCODEC_RECIPE} scores LibriTTS's {part} (openslr 60: the LibriVox recordings of LibriSpeech "
            f"{part}, split at sentence breaks at 24 kHz; the recipe resamples them to 16 kHz). codecbench runs the "
            f"row on LibriSpeech {part}: the same speakers and books, cut into other utterances.")


_MIC_NOTE = ("AISHELL-2's microphone channel. If its files are not 16 kHz, audio-native scores them at their own "
             "rate, while FunCodec's recipe scored 16 kHz copies: resample the test set to 16 kHz (a wav.scp under "
             "another name, with `codecbench evaluate`) for the recipe's exact protocol.")


FUNCODEC_EN_LIBRITTS_NQ32DS640 = PublishedTable(
    name="funcodec-en-libritts-nq32ds640",
    source=PublishedSource(
        kind="model card",
        title="alibaba-damo/audio_codec-encodec-en-libritts-16k-nq32ds640-pytorch (FunCodec)",
        url=_FUNCODEC_CARD,
    ),
    codec="funcodec_en_libritts_16k_nq32ds640",
    points=(
        PublishedPoint("100 tokens/s", kbps=1.0, tokens_per_second=100.0),  # 4 quantizers x 25 frames/s
        PublishedPoint("200 tokens/s", kbps=2.0, tokens_per_second=200.0),  # 8 quantizers x 25 frames/s
    ),
    metric="visqol",
    protocol="audio-native",
    protocol_reason=_FUNCODEC_PROTOCOL_REASON,
    rows=(
        PublishedRow("librispeech-test-clean", "LibriSpeech test-clean", (3.93, 4.16),
                     _librispeech_note("test-clean")),
        PublishedRow("librispeech-test-other", "LibriSpeech test-other", (3.84, 4.07),
                     _librispeech_note("test-other")),
        PublishedRow("aishell1-test", "aishell1", (3.70, 3.96), "AISHELL-1's test set (7176 utterances)."),
        PublishedRow("aishell2-test-ios", "aishell2 test-ios", (3.86, 4.11)),
        PublishedRow("aishell2-test-mic", "aishell2 test-mic", (3.81, 4.07), _MIC_NOTE),
        PublishedRow("wenetspeech-test-meeting", "wenet test", (3.54, 3.84), _WENET_NOTE),
        PublishedRow("gigaspeech-test", "gigaspeech test", (3.84, 4.10)),
    ),
)

PUBLISHED_TABLES: dict[str, PublishedTable] = {table.name: table for table in (FUNCODEC_EN_LIBRITTS_NQ32DS640,)}


def get_table(name: str) -> PublishedTable:
    """The published table called ``name``.

    Raises:
        UnknownTableError: no such table; the message lists the known ones.
    """
    try:
        return PUBLISHED_TABLES[name]
    except KeyError:
        raise UnknownTableError(
            f"unknown published table {name!r}; known tables: {', '.join(PUBLISHED_TABLES)} "
            "(`codecbench reproduce --list` describes them)."
        ) from None
