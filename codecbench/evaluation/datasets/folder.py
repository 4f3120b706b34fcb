"""Any folder of audio files: ``NAME=folder:PATH``.

Every file with a supported audio extension under the folder (recursively, hidden files and
folders left out) is an utterance; its id is its path relative to the folder, without the
extension. Nothing is known about speakers, languages or texts.
"""

from __future__ import annotations

import os
from pathlib import Path

from codecbench.audio import SUPPORTED_EXTENSIONS
from codecbench.evaluation.datasets.sources import AudioFile
from codecbench.evaluation.datasets.utterance import CorpusListing, TestSetError, Utterance, unique_by_id


def load_folder(folder: Path) -> CorpusListing:
    """The audio files under ``folder``, in id order."""
    if folder.exists() and not folder.is_dir():
        raise TestSetError(f"folder: {folder} is a file, not a folder; give the folder holding the audio files.")
    if not folder.is_dir():
        raise TestSetError(f"folder: no such folder {folder}; expected a folder of audio files.")
    paths = []
    for directory, subdirectories, files in os.walk(folder, followlinks=True):
        subdirectories[:] = sorted(name for name in subdirectories if not name.startswith("."))
        paths += [
            Path(directory, name)
            for name in files
            if not name.startswith(".") and Path(name).suffix.lower() in SUPPORTED_EXTENSIONS
        ]
    if not paths:
        raise TestSetError(
            f"folder: no audio files under {folder} (looked for {', '.join(SUPPORTED_EXTENSIONS)})."
        )
    utterances = [
        Utterance(path.relative_to(folder).with_suffix("").as_posix(), AudioFile(path))
        for path in sorted(paths, key=lambda path: path.relative_to(folder).as_posix())
    ]
    utterances.sort(key=lambda utterance: utterance.id)
    return unique_by_id(utterances)
