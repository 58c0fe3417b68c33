"""jlsm: a differentiable land-surface model in JAX."""
