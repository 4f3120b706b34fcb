"""FACodec's redecoder (upstream ``FACodecRedecoder``): codes plus any timbre vector to speech.

It embeds codes with its own tables (not the decoder's codebooks) and runs the prosody
embedding through a transformer conditioned on the target timbre, so that prosody follows the
new speaker. Used for zero-shot voice conversion: content and prosody codes of one utterance,
timbre of another.
"""

from __future__ import annotations

import torch
from torch import nn

from codecbench.codecs.facodec.codes import FactorizedCodes
from codecbench.codecs.facodec.config import FACodecRedecoderConfig
from codecbench.codecs.facodec.generator import TimbreConditionedGenerator
from codecbench.codecs.facodec.transformer import TransformerEncoder


def _embedding_tables(count: int, entries: int, dim: int) -> nn.ModuleList:
    return nn.ModuleList(nn.Embedding(entries, dim) for _ in range(count))


class FACodecRedecoder(nn.Module):
    """Code embeddings, timbre-conditioned prosody encoder and generator."""

    upstream_names = {
        "prosody_embeddings": "prosody_embs",
        "content_embeddings": "content_embs",
        "residual_embeddings": "residual_embs",
        "prosody_encoder": "timbre_cond_prosody_enc",
        "generator": "",
    }

    def __init__(self, config: FACodecRedecoderConfig):
        super().__init__()
        self.config = config
        prosody_entries, content_entries, residual_entries = config.codebook_entries
        self.prosody_embeddings = _embedding_tables(config.vq_num_q_p, prosody_entries, config.vq_dim)
        self.content_embeddings = _embedding_tables(config.vq_num_q_c, content_entries, config.vq_dim)
        self.residual_embeddings = _embedding_tables(config.vq_num_q_r, residual_entries, config.vq_dim)
        self.prosody_encoder = TransformerEncoder(config.timbre_cond_prosody_enc, style_adaptive=True)
        self.generator = TimbreConditionedGenerator(
            config.in_channels, config.upsample_initial_channel, config.up_ratios
        )

    def embed(
        self, codes: FactorizedCodes, timbre: torch.Tensor, batch_positions: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Frame embeddings ``[B, D, T]`` for ``codes`` spoken with ``timbre`` ``[B, D]`` (upstream ``vq2emb``).

        Residual codes are added when ``codes`` carries any (voice conversion passes none, as
        upstream's example does). As upstream, the prosody encoder runs after adding each
        prosody codebook's embedding (once, for the published single prosody codebook).
        ``batch_positions``: see :mod:`codecbench.codecs.facodec.transformer`.
        """
        self._check_codebooks(codes)
        prosody: torch.Tensor | float = 0.0
        for index, table in enumerate(self.prosody_embeddings):
            prosody = prosody + table(codes.prosody[:, index])  # [B, T, D]
            prosody = self.prosody_encoder(prosody, condition=timbre, batch_positions=batch_positions)
        embedding = prosody
        for index, table in enumerate(self.content_embeddings):
            embedding = embedding + table(codes.content[:, index])
        for index in range(codes.residual.shape[1]):
            embedding = embedding + self.residual_embeddings[index](codes.residual[:, index])
        return embedding.transpose(1, 2)

    def synthesize(self, embedding: torch.Tensor, timbre: torch.Tensor) -> torch.Tensor:
        """Waveform ``[B, 1, T * hop]`` from embeddings ``[B, D, T]`` and timbre ``[B, D]`` (upstream ``inference``)."""
        return self.generator(embedding, timbre)

    def _check_codebooks(self, codes: FactorizedCodes) -> None:
        expected = (self.config.vq_num_q_p, self.config.vq_num_q_c)
        if (codes.prosody.shape[1], codes.content.shape[1]) != expected:
            raise ValueError(
                f"the redecoder needs {expected[0]} prosody and {expected[1]} content codebooks, got "
                f"{codes.prosody.shape[1]} and {codes.content.shape[1]}"
            )
        if codes.residual.shape[1] > self.config.vq_num_q_r:
            raise ValueError(
                f"the redecoder has {self.config.vq_num_q_r} residual codebooks, got {codes.residual.shape[1]}"
            )
