"""The mask operations the pipelines share."""

import numpy as np

from OrthoAILib.pipelines.masks import largest_component


def test_the_largest_piece_is_kept_and_connectivity_decides_what_a_piece_is():
    mask = np.zeros((12, 12), bool)
    mask[1:4, 1:4] = True                  # 9 pixels
    mask[6:10, 6:10] = True                # 16 pixels
    mask[4, 4] = mask[5, 5] = True         # joins the two only through corners
    np.testing.assert_array_equal(largest_component(mask), mask & (np.indices(mask.shape).min(0) >= 6))
    assert largest_component(mask, np.ones((3, 3))).sum() == mask.sum()  # corners count: one piece
    empty = np.zeros((4, 4), bool)
    assert largest_component(empty) is empty
