"""Miniature corpora in each real on-disk layout, made from generated speech, for loader tests.

Each builder writes a few utterances, a missing file or a garbage segment, and returns a
:class:`MiniCorpus` saying what a loader must find: ids with their texts, speakers and
expected audio, and the ids it must skip.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile

from codecbench.synthetic import speech_like

SAMPLE_RATE_HZ = 16_000


@dataclass
class MiniCorpus:
    root: Path
    texts: dict[str, str | None] = field(default_factory=dict)
    speakers: dict[str, str | None] = field(default_factory=dict)
    audio: dict[str, np.ndarray] = field(default_factory=dict)  # what reading each utterance must give
    spans_s: dict[str, tuple[float, float]] = field(default_factory=dict)  # long-form: (start, end)
    skipped: set[str] = field(default_factory=set)

    def add(self, utterance_id: str, text: str | None, samples: np.ndarray, speaker: str | None = None) -> None:
        self.texts[utterance_id] = text
        self.speakers[utterance_id] = speaker
        self.audio[utterance_id] = samples


def clip(seed: int, seconds: float = 1.0, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Speech-like audio, quantised to 16 bits so that it round-trips through PCM files exactly."""
    samples = speech_like(seconds, sample_rate_hz, seed=seed)
    return (np.round(samples * 32768) / 32768).astype(np.float32)


def write_pcm(path: Path, samples: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples, sample_rate_hz, subtype="PCM_16")
    return path


def wav_bytes(samples: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, sample_rate_hz, subtype="PCM_16", format="WAV")
    return buffer.getvalue()


def write_ogg_opus(path: Path, samples: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ, bitrate_bps: int = 32_000) -> Path:
    """An Ogg Opus file as the corpora ship them (libopus through FFmpeg)."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format="ogg") as output:
        stream = output.add_stream("libopus", rate=sample_rate_hz)
        stream.layout = "mono"
        stream.bit_rate = bitrate_bps
        frame = av.AudioFrame.from_ndarray(samples.astype(np.float32)[None, :], format="flt", layout="mono")
        frame.sample_rate = sample_rate_hz
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            output.mux(packet)
    return path


def write_tar(path: Path, members: dict[str, bytes], *, folders: tuple[str, ...] = ()) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for folder in folders:
            info = tarfile.TarInfo(folder)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


# --------------------------------------------------------------------------------------


def make_librispeech(parent: Path) -> dict[str, MiniCorpus]:
    """``parent/LibriSpeech/test-{clean,other}``: per part, a transcript line without its flac and a flac without a line."""
    base = parent / "LibriSpeech"
    base.mkdir(parents=True)
    for name in ("BOOKS.TXT", "CHAPTERS.TXT", "LICENSE.TXT", "README.TXT"):
        (base / name).write_text("")
    (base / "SPEAKERS.TXT").write_text("; ID  |SEX| SUBSET |MINUTES| NAME\n1089 | M | test-clean | 25.0 | x\n")
    corpora = {}
    layout = {
        "test-clean": {("1089", "134686"): ["HE HOPED THERE WOULD BE STEW", "STUFF IT INTO YOU"], ("121", "121726"): ["ALSO A POPULAR CONTRIVANCE"]},
        "test-other": {("1688", "142285"): ["THERE'S IRON THEY SAY IN ALL OUR BLOOD", "AND A GRAIN OR TWO OF IT"]},
    }
    seed = 100
    for part, chapters in layout.items():
        corpus = corpora[part] = MiniCorpus(parent)
        for (speaker, chapter), texts in chapters.items():
            chapter_dir = base / part / speaker / chapter
            chapter_dir.mkdir(parents=True)
            lines = []
            for index, text in enumerate(texts):
                utterance_id = f"{speaker}-{chapter}-{index:04d}"
                seed += 1
                samples = clip(seed)
                soundfile.write(chapter_dir / f"{utterance_id}.flac", samples, SAMPLE_RATE_HZ, subtype="PCM_16")
                corpus.add(utterance_id, text, samples, speaker)
                lines.append(f"{utterance_id} {text}")
            missing = f"{speaker}-{chapter}-0042"
            lines.append(f"{missing} THIS FLAC WAS LOST")
            corpus.skipped.add(missing)
            (chapter_dir / f"{speaker}-{chapter}.trans.txt").write_text("\n".join(lines) + "\n")
        stray = f"{speaker}-{chapter}-0077"
        soundfile.write(chapter_dir / f"{stray}.flac", clip(999), SAMPLE_RATE_HZ)
        corpus.skipped.add(stray)
    return corpora


_AISHELL1 = {
    # speaker: [(utterance number, text with the corpus's word-segmentation spaces)]
    "S0764": [("0121", "甚至  出现  交易  几乎  停滞  的  情况"), ("0122", "一二线  城市  虽然  也  处于  调整  中")],
    "S0765": [("0130", "但  因为  聚集  了  过多  公共  资源")],
}
_AISHELL1_TRAIN = {"S0002": [("0122", "而  对  楼市  成交  抑制  作用  最  大  的  限  购")]}


def make_aishell1(parent: Path, *, packed: bool) -> MiniCorpus:
    """``parent/data_aishell`` with two test speakers and one train speaker, unpacked or as per-speaker tar.gz.

    A test wav has no transcript line, and a transcript line of a test speaker has no wav.
    """
    data = parent / "data_aishell"
    corpus = MiniCorpus(parent)
    transcript_lines = []
    seed = 200
    for part, speakers in (("test", _AISHELL1), ("train", _AISHELL1_TRAIN)):
        for speaker, utterances in speakers.items():
            members: dict[str, bytes] = {}
            for number, text in utterances:
                utterance_id = f"BAC009{speaker}W{number}"
                seed += 1
                samples = clip(seed)
                members[f"{part}/{speaker}/{utterance_id}.wav"] = wav_bytes(samples)
                transcript_lines.append(f"{utterance_id} {text}")
                if part == "test":
                    corpus.add(utterance_id, "".join(text.split()), samples, speaker)
            if part == "test" and speaker == "S0765":
                untranscribed = f"BAC009{speaker}W0999"
                members[f"{part}/{speaker}/{untranscribed}.wav"] = wav_bytes(clip(998))
                corpus.skipped.add(untranscribed)
            if packed:
                write_tar(data / "wav" / f"{speaker}.tar.gz", members, folders=(part, f"{part}/{speaker}"))
            else:
                for name, payload in members.items():
                    (data / "wav" / name).parent.mkdir(parents=True, exist_ok=True)
                    (data / "wav" / name).write_bytes(payload)
    transcript_lines.append("BAC009S0764W0500 这 一 句 的 录音 丢失 了")
    corpus.skipped.add("BAC009S0764W0500")
    transcript_lines.append("BAC009S0916W0001 别的 说话人 的 句子")  # a speaker not in the test set: ignored
    (data / "transcript").mkdir(parents=True)
    (data / "transcript" / "aishell_transcript_v0.8.txt").write_text("\n".join(sorted(transcript_lines)) + "\n", encoding="utf-8")
    return corpus


def make_aishell2(parent: Path) -> dict[str, MiniCorpus]:
    """``parent/AISHELL-DEV-TEST-SET``: iOS test unpacked, Android test packed as test.tar.gz, Mic at 44.1 kHz.

    Each has a dev set too (which must not be mixed in), a wav.scp line whose wav is missing and
    one without a trans.txt line.
    """
    base = parent / "AISHELL-DEV-TEST-SET"
    corpora = {}
    seed = 300
    for channel, prefix, rate, packed in (("iOS", "I", 16_000, False), ("Android", "A", 16_000, True), ("Mic", "M", 44_100, False)):
        corpus = corpora[channel] = MiniCorpus(parent)
        for subset, speakers in (("test", ("T0011", "T0018")), ("dev", ("D0013",))):
            members: dict[str, bytes] = {}
            scp, trans = [], []
            for speaker in speakers:
                for number in (1, 2):
                    utterance_id = f"{prefix}{speaker}W{number:04d}"
                    text = f"换一首歌{number}" if subset == "test" else "开发集"
                    seed += 1
                    samples = clip(seed, sample_rate_hz=rate)
                    relative = f"wav/{speaker}/{utterance_id}.wav"
                    members[relative] = wav_bytes(samples, rate)
                    scp.append(f"{utterance_id}\t{relative}")
                    trans.append(f"{utterance_id}\t{text}")
                    if subset == "test":
                        corpus.add(utterance_id, text, samples, speaker)
            if subset == "test":
                lost = f"{prefix}T0018W0003"
                scp.append(f"{lost}\twav/T0018/{lost}.wav")
                untranscribed = f"{prefix}T0018W0004"
                members[f"wav/T0018/{untranscribed}.wav"] = wav_bytes(clip(997, sample_rate_hz=rate), rate)
                scp.append(f"{untranscribed}\twav/T0018/{untranscribed}.wav")
                corpus.skipped |= {lost, untranscribed}
            members["wav.scp"] = ("\n".join(scp) + "\n").encode()
            members["trans.txt"] = ("\n".join(trans) + "\n").encode()
            if packed and subset == "test":
                write_tar(base / channel / "test.tar.gz", {f"test/{name}": data for name, data in members.items()})
            else:
                for name, payload in members.items():
                    (base / channel / subset / name).parent.mkdir(parents=True, exist_ok=True)
                    (base / channel / subset / name).write_bytes(payload)
    return corpora


def make_wenetspeech(root: Path) -> dict[str, MiniCorpus]:
    """``root/WenetSpeech.json`` and ``root/audio/...``: a TEST_NET and a TEST_MEETING recording.

    TEST_NET has a garbage segment (ends before it starts), a segment past the recording's end
    and a recording whose file is missing; a training recording (no file) must be ignored.
    """
    net_aid, meeting_aid = "TEST_NET_Y0000000000_-KTKHdZ2fb8", "TEST_MEETING_T0000000001"
    net = clip(400, seconds=10.0)
    meeting = clip(401, seconds=8.0)
    net_path = f"audio/test_net/youtube/B00000/{net_aid}.opus"
    meeting_path = f"audio/test_meeting/third_party/B00000/{meeting_aid}.opus"
    write_ogg_opus(root / net_path, net)
    write_ogg_opus(root / meeting_path, meeting)

    def segment(aid: str, index: int, begin: float, end: float, subset: str, text: str) -> dict:
        return {"sid": f"{aid}_S{index:05d}", "confidence": 1.0, "begin_time": begin, "end_time": end, "subsets": [subset], "text": text}

    audios = [
        {"aid": "Y0000000099_xyz", "duration": 30.0, "md5": "0" * 32, "path": "audio/train/youtube/B00001/Y0000000099_xyz.opus",
         "source": "youtube", "tags": ["drama"], "url": "https://example.invalid/x",
         "segments": [segment("Y0000000099_xyz", 0, 0.0, 2.0, "L", "训练 数据")]},
        {"aid": net_aid, "duration": 10.0, "md5": "1" * 32, "path": net_path, "source": "youtube", "tags": ["vlog"], "url": "",
         "segments": [
             segment(net_aid, 1, 3.5, 6.25, "TEST_NET", "我们今天 来聊一聊"),
             segment(net_aid, 0, 0.5, 3.0, "TEST_NET", "大家好"),
             segment(net_aid, 2, 7.0, 6.5, "TEST_NET", "坏的片段"),
             segment(net_aid, 3, 9.5, 12.0, "TEST_NET", "超出了录音"),
         ]},
        {"aid": meeting_aid, "duration": 8.0, "md5": "2" * 32, "path": meeting_path, "source": "meeting", "tags": [], "url": "",
         "segments": [segment(meeting_aid, 0, 1.0, 4.0, "TEST_MEETING", "开会了"), segment(meeting_aid, 1, 4.5, 7.5, "TEST_MEETING", "下一个议题")]},
        {"aid": "TEST_NET_Y0000000005_lost", "duration": 5.0, "md5": "3" * 32, "path": "audio/test_net/youtube/B00000/TEST_NET_Y0000000005_lost.opus",
         "source": "youtube", "tags": [], "url": "", "segments": [segment("TEST_NET_Y0000000005_lost", 0, 0.0, 2.0, "TEST_NET", "丢了")]},
    ]
    (root / "WenetSpeech.json").write_text(
        json.dumps({"dataset": "WenetSpeech", "language": "Chinese", "version": "v1.0", "audios": audios}, ensure_ascii=False, indent=1),
        encoding="utf-8",
    )
    (root / "TERMS_OF_ACCESS").write_text("terms\n")
    net_corpus, meeting_corpus = MiniCorpus(root), MiniCorpus(root)
    for corpus, signal, aid, spans in (
        (net_corpus, net, net_aid, [(0, 0.5, 3.0, "大家好"), (1, 3.5, 6.25, "我们今天 来聊一聊")]),
        (meeting_corpus, meeting, meeting_aid, [(0, 1.0, 4.0, "开会了"), (1, 4.5, 7.5, "下一个议题")]),
    ):
        for index, begin, end, text in spans:
            sid = f"{aid}_S{index:05d}"
            corpus.add(sid, text, signal[round(begin * SAMPLE_RATE_HZ) : round(end * SAMPLE_RATE_HZ)])
            corpus.spans_s[sid] = (begin, end)
    net_corpus.skipped |= {f"{net_aid}_S00002", f"{net_aid}_S00003", "TEST_NET_Y0000000005_lost_S00000"}
    return {"TEST_NET": net_corpus, "TEST_MEETING": meeting_corpus}


def make_gigaspeech(root: Path) -> MiniCorpus:
    """``root/GigaSpeech.json`` and ``root/audio/...``: one TEST podcast with garbage segments, one TEST file missing."""
    aid = "POD1000000004"
    signal = clip(500, seconds=12.0)
    path = f"audio/podcast/P0000/{aid}.opus"
    write_ogg_opus(root / path, signal)

    def segment(index: int, begin: float, end: float, text: str, subsets=("{TEST}",), speaker="N/A") -> dict:
        return {"sid": f"{aid}_S{index:07d}", "speaker": speaker, "begin_time": begin, "end_time": end, "text_tn": text, "subsets": list(subsets)}

    audios = [
        {"title": "train", "url": "", "path": "audio/audiobook/P0001/AUD0000000001.opus", "aid": "AUD0000000001", "source": "audiobook",
         "format": "opus", "sample_rate": 16000, "channels": 1, "duration": 100.0, "md5": "", "subsets": ["{XL}", "{L}"],
         "segments": [{"sid": "AUD0000000001_S0000000", "speaker": "N/A", "begin_time": 0.0, "end_time": 2.0, "text_tn": "TRAIN", "subsets": ["{XL}"]}]},
        {"title": "A test podcast", "url": "", "path": path, "aid": aid, "source": "podcast", "format": "opus", "sample_rate": 16000,
         "channels": 1, "duration": 12.0, "md5": "", "subsets": ["{TEST}"],
         "segments": [
             segment(0, 0.0, 0.8, "<SIL>"),
             segment(1, 0.8, 4.0, "AS THEY'RE LEAVING <COMMA> CAN KASH PULL ZAHRA ASIDE REALLY QUICKLY <QUESTIONMARK>", speaker="SPK1"),
             segment(2, 4.0, 5.0, "<MUSIC>"),
             segment(3, 5.0, 9.25, "I THINK IT WAS <PERIOD>"),
             segment(4, 9.25, 10.0, "<NOISE> <PERIOD>"),
             segment(5, 10.0, 12.0, "<OTHER>"),
         ]},
        {"title": "lost", "url": "", "path": "audio/youtube/P0000/YOU1000000038.opus", "aid": "YOU1000000038", "source": "youtube",
         "format": "opus", "sample_rate": 16000, "channels": 1, "duration": 5.0, "md5": "", "subsets": ["{TEST}"],
         "segments": [{"sid": "YOU1000000038_S0000000", "speaker": "N/A", "begin_time": 0.0, "end_time": 3.0, "text_tn": "LOST <PERIOD>", "subsets": ["{TEST}"]}]},
    ]
    (root / "GigaSpeech.json").write_text(json.dumps({"dataset": "GigaSpeech", "language": "EN", "version": "v1.0.0", "audios": audios}, indent=2))
    corpus = MiniCorpus(root)
    for index, begin, end, text, speaker in (
        (1, 0.8, 4.0, "AS THEY'RE LEAVING <COMMA> CAN KASH PULL ZAHRA ASIDE REALLY QUICKLY <QUESTIONMARK>", "SPK1"),
        (3, 5.0, 9.25, "I THINK IT WAS <PERIOD>", None),
    ):
        sid = f"{aid}_S{index:07d}"
        corpus.add(sid, text, signal[round(begin * SAMPLE_RATE_HZ) : round(end * SAMPLE_RATE_HZ)], speaker)
        corpus.spans_s[sid] = (begin, end)
    corpus.skipped.add("YOU1000000038_S0000000")
    return corpus


def make_folder(root: Path, count: int, *, seconds: float = 1.0, first_seed: int = 0) -> MiniCorpus:
    """``count`` wav files ``root/utt_NNNN.wav`` (a generated corpus for runs and benchmarks)."""
    corpus = MiniCorpus(root)
    for index in range(count):
        samples = clip(first_seed + index, seconds)
        write_pcm(root / f"utt_{index:04d}.wav", samples)
        corpus.add(f"utt_{index:04d}", None, samples)
    return corpus
