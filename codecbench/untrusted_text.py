"""Text that strangers wrote (crowd IDs, link parameters, item and test-set names), made safe
for where codecbench writes it: a terminal, or a CSV file opened in a spreadsheet."""

from __future__ import annotations

import unicodedata

import pandas as pd

#: A CSV cell beginning with one of these is read as a formula by Excel, LibreOffice and Google
#: Sheets (OWASP, "CSV injection"); such cells are written with a leading apostrophe.
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# Characters a terminal acts on instead of showing: controls (NUL, ESC), format characters
# (U+202E right-to-left override), surrogates, line and paragraph separators.
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def terminal_safe(text: str) -> str:
    """``text`` with every character a terminal would act on written as an escape (``\\u202e``),
    line breaks and tabs kept."""
    return "".join(
        character if character in "\n\t" or unicodedata.category(character) not in _HIDDEN_CATEGORIES
        else f"\\x{ord(character):02x}" if ord(character) < 0x100 else f"\\u{ord(character):04x}"
        for character in text
    )


def spreadsheet_cell(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula, with a leading ``'``; anything
    else (numbers, empty cells) as it is."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as formulas (numbers stay numbers)."""
    frame = frame.copy()
    for column in frame.columns:
        if frame[column].dtype == object or pd.api.types.is_string_dtype(frame[column]):
            frame[column] = frame[column].map(spreadsheet_cell)
    return frame
