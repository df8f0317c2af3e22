"""masked_relative_l2 and check_mask: the exact formula, the 0/1 rule and the empty-mask refusal."""

import math

import pytest
import torch

from sciml.core.errors import InvalidValueError
from sciml.fields.grid import Grid
from sciml.metrics.masked import check_mask, masked_relative_l2


def test_value_equals_the_formula_and_float_0_1_masks_equal_bool_masks():
    grid = Grid.uniform((4, 4), periodic=True)  # equal weights: the error is a ratio of plain sums
    target = torch.ones(1, 1, 4, 4)
    pred = target.clone()
    pred[..., 0, :] = 3.0  # error 2 on the 4 points of the first row
    inside = torch.zeros(4, 4, dtype=torch.bool)
    inside[:2] = True  # 8 points inside, 4 of them wrong
    expected = math.sqrt(4 * 2.0**2 / 8)
    assert masked_relative_l2(pred, target, inside, grid).item() == pytest.approx(expected, rel=1e-6)
    assert masked_relative_l2(pred, target, inside.double(), grid).item() == pytest.approx(expected, rel=1e-6)
    assert torch.equal(check_mask(inside.float(), (1, 1, 4, 4)), inside)


@pytest.mark.parametrize("value", [0.3, float("nan"), 2.0])
def test_soft_or_invalid_masks_are_refused_not_rounded(value):
    mask = torch.ones(4, 4)
    mask[1, 1] = value
    with pytest.raises(InvalidValueError, match="hold only 0 and 1"):
        masked_relative_l2(torch.rand(2, 1, 4, 4), torch.rand(2, 1, 4, 4), mask)


def test_a_sample_with_an_empty_mask_is_refused_instead_of_scoring_zero():
    mask = torch.ones(3, 1, 4, 4, dtype=torch.bool)
    mask[1] = False
    with pytest.raises(InvalidValueError, match=r"no point inside the domain for sample\(s\) \[1\] of 3"):
        masked_relative_l2(torch.rand(3, 1, 4, 4), torch.rand(3, 1, 4, 4), mask)
