"""The collinearity index of parameter subsets (jlsm.identify.collinearity)."""

import numpy as np
import pytest

from jlsm import identify as idf


def test_collinearity_index_of_known_columns():
    s = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    c = idf.collinearity(s, ["a", "b", "c"])
    assert float(c["collinearity"].sel(subset="a,b")) == pytest.approx(1.0)
    # c = a + b: the three columns are linearly dependent
    assert float(c["collinearity"].sel(subset="a,b,c")) > 1e6
    # unit columns at 45 degrees: gamma = 1 / sqrt(1 - cos 45)
    assert float(c["collinearity"].sel(subset="a,c")) == pytest.approx(1 / np.sqrt(1 - np.sqrt(0.5)))
