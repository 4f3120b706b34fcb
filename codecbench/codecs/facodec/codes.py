"""FACodec's codes, grouped by the attribute each codebook carries."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class FactorizedCodes:
    """Codes of a batch of utterances: integer tensors ``[B, K, T]`` per attribute.

    Upstream's ``vq_id`` is ``[K_total, B, T]`` with prosody first, then content, then residual;
    :meth:`stacked` gives that order batch-first.

    Attributes:
        prosody: ``[B, vq_num_q_p, T]`` (published model: 1 codebook).
        content: ``[B, vq_num_q_c, T]`` (published model: 2 codebooks).
        residual: ``[B, R, T]`` acoustic-detail codes of the first ``R`` residual stages;
            ``R`` may be anything from 0 (prosody and content only) to ``vq_num_q_r``.
    """

    prosody: torch.Tensor
    content: torch.Tensor
    residual: torch.Tensor

    def __post_init__(self) -> None:
        groups = {"prosody": self.prosody, "content": self.content, "residual": self.residual}
        for name, codes in groups.items():
            if codes.dim() != 3:
                raise ValueError(f"{name} codes must be [batch, codebooks, frames], got shape {tuple(codes.shape)}")
            if codes.dtype.is_floating_point or codes.dtype == torch.bool:
                raise ValueError(f"{name} codes must be integers, got {codes.dtype}")
        shapes = {(c.shape[0], c.shape[2]) for c in groups.values()}
        if len(shapes) != 1:
            raise ValueError(
                "prosody, content and residual codes must share batch and frame sizes, got "
                + ", ".join(f"{name} {tuple(c.shape)}" for name, c in groups.items())
            )

    @property
    def batch_size(self) -> int:
        return self.prosody.shape[0]

    @property
    def num_frames(self) -> int:
        return self.prosody.shape[2]

    @property
    def num_codebooks(self) -> int:
        return self.prosody.shape[1] + self.content.shape[1] + self.residual.shape[1]

    def stacked(self) -> torch.Tensor:
        """All codes ``[B, K, T]``: prosody, content, residual."""
        return torch.cat([self.prosody, self.content, self.residual], dim=1)

    def with_residual_codebooks(self, count: int) -> FactorizedCodes:
        """The same codes keeping only the first ``count`` residual codebooks."""
        if not 0 <= count <= self.residual.shape[1]:
            raise ValueError(f"residual codebooks to keep must be 0 to {self.residual.shape[1]}, not {count}")
        return FactorizedCodes(self.prosody, self.content, self.residual[:, :count])

    @classmethod
    def from_stacked(cls, codes: torch.Tensor, num_prosody: int, num_content: int) -> FactorizedCodes:
        """Split ``[B, K, T]`` codes (prosody, content, residual order) into attributes."""
        if codes.dim() != 3 or codes.shape[1] < num_prosody + num_content:
            raise ValueError(
                f"expected codes [batch, at least {num_prosody + num_content} codebooks, frames], "
                f"got shape {tuple(codes.shape)}"
            )
        split = num_prosody + num_content
        return cls(codes[:, :num_prosody], codes[:, num_prosody:split], codes[:, split:])
