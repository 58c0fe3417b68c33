"""Pieces of the multi-start inversion (:func:`jlsm.inverse.invert`).

* :mod:`jlsm.inversion.results`: the result Dataset, per-start verdicts
  (best basin, other basin, at a bound, diverged) and the summaries over the
  best basin;
* :mod:`jlsm.inversion.checkpoint`: checkpoints, resuming, and stopping
  promptly on Ctrl-C;
* :mod:`jlsm.inversion.optimisers`: Adam (default), L-BFGS, Gauss-Newton.
"""
