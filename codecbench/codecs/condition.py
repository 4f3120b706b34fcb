"""A condition: one codec at one operating point, written ``codec@kbps``.

It is the engine's unit of "what to run", shared by the evaluation runner, the reproduction
of published tables, the Listen page and the command line, so it lives with the codecs and
depends on nothing but the codec registry.
"""

from __future__ import annotations

from dataclasses import dataclass

from codecbench.codecs.registry import get_entry


@dataclass(frozen=True)
class Condition:
    """A codec at one operating point, written ``codec@kbps`` (``lowpass_3500`` has no ``@``).

    Args:
        codec: registry name.
        kbps: the operating point's nominal bitrate; ``None`` for a codec with one point.
    """

    codec: str
    kbps: float | None = None

    @classmethod
    def parse(cls, text: str) -> Condition:
        """``opus@6`` or ``lowpass_3500`` as a condition.

        Raises:
            ValueError: no codec name, or a bitrate that is not a number.
        """
        name, _, kbps = text.strip().partition("@")
        if not name:
            raise ValueError(f"condition {text!r} names no codec; write CODEC@KBPS, e.g. opus@6")
        try:
            return cls(name, float(kbps) if kbps else None)
        except ValueError:
            raise ValueError(f"condition {text!r}: {kbps!r} is not a bitrate in kbps") from None

    def __str__(self) -> str:
        return self.codec if self.kbps is None else f"{self.codec}@{self.kbps:g}"

    @property
    def title(self) -> str:
        """Human label: the codec with its operating point ("opus 6 kbps", "codec2 700C")."""
        try:
            point = get_entry(self.codec).spec.operating_point(self.kbps)
        except ValueError:
            return str(self)
        return f"{self.codec} {point.label}"


def parse_codec_request(text: str) -> list[Condition]:
    """``NAME@KBPS,KBPS`` (or ``NAME`` for a codec with one operating point) as conditions.

    The grammar of ``--codec`` and of the app's evaluation panel: one codec, several bitrates.

    Raises:
        ValueError: no codec name, or a bitrate that is not a number.
    """
    name, at, bitrates = text.strip().partition("@")
    name = name.strip()
    if not name:
        raise ValueError(f"--codec {text!r} names no codec; write NAME@KBPS,KBPS (opus@6,12) or NAME (lowpass_3500)")
    if not at:
        return [Condition(name)]
    values = [value.strip() for value in bitrates.split(",")]
    if not all(values):
        raise ValueError(f"--codec {text!r}: list bitrates in kbps separated by commas, e.g. {name}@6,12")
    return [Condition.parse(f"{name}@{value}") for value in values]
