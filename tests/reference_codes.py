"""Comparing codes with an upstream reference, knowing how close each choice was to a tie.

A vector quantizer picks the codeword nearest to its input. When the nearest and the
second-nearest are almost equally far, the float rounding of the layers before it (which
differs between CPUs, thread counts and BLAS kernels) decides the choice, and a different
machine may pick the other one. Such an entry says nothing about whether a model is ported
correctly, and every entry that is not near a tie must be equal.

So each stored reference keeps, next to its codes ``[K, T]``, their **margins** ``[K, T]``:
for entry ``(k, t)`` and every other codeword ``j``, the gap between ``j``'s and the chosen
codeword ``c``'s squared distance divided by how fast that gap can move when the quantizer's
latent input is perturbed (``2 |c - j|`` times the size of the perturbation of the compared
vector per unit of relative perturbation of the latent), smallest over ``j``. A margin is
thus the relative perturbation of
the frame's latent (the input of the first codebook) that could flip the choice: rounding
moves latents by about 1e-7 to 1e-5 relative, and :data:`FLOAT_NOISE` is the margin below
which an entry may differ.

In a residual quantizer a flipped entry changes the residual every later codebook of the
same frame sees, so after an entry that differs within its margin, the later codebooks of
that frame may differ too; other frames may not (their latents do not depend on codes).

The tools in ``tests/tools/`` compute margins from upstream's own quantizer inputs
(:func:`residual_vq_margins`); the tests compare with :func:`assert_codes_match`.
"""

from __future__ import annotations

import numpy as np

#: Relative perturbation of a latent that float rounding may cause (with headroom): entries
#: whose margin is below it may be decided by the machine.
FLOAT_NOISE = 1e-4


def nearest_codeword_margins(
    vectors: np.ndarray, codebook: np.ndarray, chosen: np.ndarray, sensitivity: np.ndarray
) -> np.ndarray:
    """Margins ``[T]`` of the choices ``chosen [T]`` of ``codebook [N, D]`` for ``vectors [T, D]``.

    ``sensitivity [T]``: how far the compared vector moves per unit of relative perturbation
    of the frame's latent. Computed in float64. The upstream choice must be the nearest
    codeword unless it is within rounding of a tie (then its margin is about 0).

    Raises:
        AssertionError: upstream chose a codeword that is clearly not the nearest (the
            vectors or codebook given are not what upstream compared).
    """
    vectors = np.asarray(vectors, dtype=np.float64)
    codebook = np.asarray(codebook, dtype=np.float64)
    distances = ((vectors[:, None, :] - codebook[None, :, :]) ** 2).sum(-1)  # [T, N]
    frames = np.arange(vectors.shape[0])
    gaps = distances - distances[frames, chosen][:, None]  # [T, N]
    # A codeword j overtakes the chosen one c when the vector moves by gap_j / (2 |c - j|) along
    # c - j; the margin is the smallest such move over all j (not only the runner-up: a farther
    # codeword in another direction can be closer to overtaking).
    chosen_words = codebook[chosen]  # [T, D]
    spreads = np.sqrt(np.maximum(
        (chosen_words**2).sum(1)[:, None] + (codebook**2).sum(1)[None, :] - 2.0 * chosen_words @ codebook.T, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        moves = np.where(spreads > 0, gaps / (2.0 * spreads), np.inf)  # identical codewords never decide anything
    moves[frames, chosen] = np.inf
    margins = moves.min(axis=1) / np.maximum(sensitivity, 1e-30)
    # Upstream may pick a farther codeword only by rounding, i.e. within a tiny negative margin.
    assert (margins > -1e-5).all(), f"upstream's choice is not the nearest codeword (margin {margins.min():.3g})"
    return np.maximum(margins, 0.0)


def residual_vq_margins(latents: np.ndarray, codebooks: list[np.ndarray], codes: np.ndarray) -> np.ndarray:
    """Margins ``[K, T]`` of a residual quantizer's codes ``[K, T]`` for latents ``[T, D]``.

    Codebook ``k`` compares ``latent - sum of the codewords chosen before it``; the codewords
    are exact, so every stage's input carries the latent's rounding, ``|latent|`` relative.
    """
    latents = np.asarray(latents, dtype=np.float64)
    sensitivity = np.linalg.norm(latents, axis=1)
    residual = latents.copy()
    margins = np.zeros(codes.shape, dtype=np.float64)
    for k, codebook in enumerate(codebooks[: codes.shape[0]]):
        codebook = np.asarray(codebook, dtype=np.float64)
        margins[k] = nearest_codeword_margins(residual, codebook, codes[k], sensitivity)
        residual -= codebook[codes[k]]
    return margins.astype(np.float32)


def assert_codes_match(ours: np.ndarray, expected: np.ndarray, margins: np.ndarray, *, float_noise: float = FLOAT_NOISE) -> None:
    """Codes ``[K, T]`` equal the reference's, except where a near tie lets the machine decide.

    Frame by frame, codebooks in order: an entry that differs must have a margin below
    ``float_noise``; from there on the frame's later codebooks are free (their residual
    changed). Every other entry must be equal.
    """
    ours, expected, margins = np.asarray(ours), np.asarray(expected), np.asarray(margins)
    assert ours.shape == expected.shape == margins.shape, (ours.shape, expected.shape, margins.shape)
    wrong = []
    for frame in range(expected.shape[1]):
        for codebook in range(expected.shape[0]):
            if ours[codebook, frame] == expected[codebook, frame]:
                continue
            if margins[codebook, frame] < float_noise:
                break  # a near tie went the other way: this frame's later codebooks may differ
            wrong.append(
                f"[{codebook}, {frame}]: {ours[codebook, frame]} vs {expected[codebook, frame]} "
                f"(margin {margins[codebook, frame]:.2g})"
            )
    assert not wrong, f"{len(wrong)} of {expected.size} codes differ beyond float noise: " + ", ".join(wrong[:10])
