"""The margin-aware code comparison, and an audit of every stored upstream reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.reference_codes import FLOAT_NOISE, assert_codes_match, nearest_codeword_margins, residual_vq_margins

DATA = Path(__file__).parent / "data"
REFERENCES = ("funcodec_reference.npz", "freqcodec_funcodec_reference.npz", "facodec_reference.npz")


# ------------------------------------------------------------------------------ the margins


def test_a_margin_is_the_relative_perturbation_that_flips_the_choice():
    codebook = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 5.0]])
    vectors = np.array([[0.1, 0.0], [0.5, 0.0]])
    margins = nearest_codeword_margins(vectors, codebook, np.array([0, 0]), sensitivity=np.array([1.0, 2.0]))
    # The boundary between codewords 0 and 1 is x = 0: 0.1 and 0.5 away, per unit of sensitivity.
    np.testing.assert_allclose(margins, [0.1, 0.25])


def test_the_margin_is_set_by_the_codeword_closest_to_overtaking_not_the_runner_up():
    # For (0.45, 0) the runner-up by distance is (0, 0.3) (0.15 from its boundary with the
    # chosen (0, 0)), but (1, 0) takes over after a move of only 0.05 (its boundary is x = 0.5).
    codebook = np.array([[0.0, 0.0], [0.0, 0.3], [1.0, 0.0]])
    margins = nearest_codeword_margins(np.array([[0.45, 0.0]]), codebook, np.array([0]), sensitivity=np.ones(1))
    np.testing.assert_allclose(margins, [0.05], rtol=1e-9)


def test_a_choice_that_is_not_the_nearest_codeword_is_caught():
    with pytest.raises(AssertionError, match="not the nearest codeword"):
        nearest_codeword_margins(np.array([[0.5, 0.0]]), np.array([[1.0, 0.0], [-1.0, 0.0]]), np.array([1]), np.ones(1))


def test_residual_margins_follow_the_residual_chain():
    first = np.array([[2.0, 0.0], [-2.0, 0.0]])
    second = np.array([[0.0, 1.0], [0.0, -1.0]])
    latents = np.array([[2.1, 0.3], [-1.9, -0.05]])
    codes = np.array([[0, 1], [0, 1]])
    margins = residual_vq_margins(latents, [first, second], codes)
    # Second stage sees (0.1, 0.3) and (0.1, -0.05): 0.3 and 0.05 from y = 0, per |latent|.
    norms = np.linalg.norm(latents, axis=1)
    np.testing.assert_allclose(margins[1], [0.3 / norms[0], 0.05 / norms[1]], rtol=1e-6)
    np.testing.assert_allclose(margins[0], [2.1 / norms[0], 1.9 / norms[1]], rtol=1e-6)


# ----------------------------------------------------------------------------- the comparison


EXPECTED = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
SAFE = np.ones((3, 3))


def test_equal_codes_match():
    assert_codes_match(EXPECTED.copy(), EXPECTED, SAFE)


def test_a_code_that_differs_with_a_safe_margin_fails():
    ours = EXPECTED.copy()
    ours[2, 1] = 0
    with pytest.raises(AssertionError, match=r"1 of 9 codes differ beyond float noise: \[2, 1\]: 0 vs 8"):
        assert_codes_match(ours, EXPECTED, SAFE)


def test_a_near_tie_may_flip_and_free_only_the_later_codebooks_of_its_frame():
    margins = SAFE.copy()
    margins[1, 1] = FLOAT_NOISE / 10
    ours = EXPECTED.copy()
    ours[1, 1], ours[2, 1] = 0, 0  # the near tie and the codebook after it, same frame
    assert_codes_match(ours, EXPECTED, margins)
    earlier = ours.copy()
    earlier[0, 1] = 0  # a codebook before the near tie may not differ
    with pytest.raises(AssertionError, match=r"\[0, 1\]"):
        assert_codes_match(earlier, EXPECTED, margins)
    other_frame = ours.copy()
    other_frame[2, 2] = 0  # nor may another frame
    with pytest.raises(AssertionError, match=r"\[2, 2\]"):
        assert_codes_match(other_frame, EXPECTED, margins)


def test_shapes_must_agree():
    with pytest.raises(AssertionError):
        assert_codes_match(EXPECTED[:, :2], EXPECTED, SAFE)


# --------------------------------------------------------------------- the stored references


@pytest.mark.parametrize("name", REFERENCES)
def test_every_stored_reference_has_margins_and_few_near_ties(name):
    """A reference whose codes are mostly near ties would test nothing: at most 2 % of a
    reference's codes may be below float noise (the tools print the counts per clip)."""
    near_ties = entries = 0
    with np.load(DATA / name) as stored:
        codes = [key for key in stored.files if key.endswith("/codes")]
        assert codes
        for key in codes:
            margins = stored[key[: -len("codes")] + "margins"]
            assert margins.shape == stored[key].shape, key
            assert (margins >= 0).all() and np.isfinite(margins).all(), key
            near_ties += int((margins < FLOAT_NOISE).sum())
            entries += margins.size
    assert near_ties <= 0.02 * entries, f"{name}: {near_ties} of {entries} codes are near ties"


@pytest.mark.parametrize("name", REFERENCES)
def test_no_stored_reference_input_holds_digital_silence(name):
    """Log, angle and normalisation features of all-zero input are decided by float rounding
    (the sign of a zero, 0/0), which differs between CPUs: inputs have a noise floor instead."""
    with np.load(DATA / name) as stored:
        inputs = [stored[key] for key in stored.files if key == "input" or key.endswith("/input")]
    assert inputs
    for samples in inputs:
        nonzero = np.flatnonzero(samples != 0)
        longest_zero_run = int((np.diff(np.concatenate([[-1], nonzero, [samples.size]])) - 1).max())
        assert longest_zero_run < 16, f"{name}: {longest_zero_run} zero samples in a row"
