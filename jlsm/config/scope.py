"""What a config asks of the model that the model cannot give: one-line notes (see docs/scope.md)."""

from __future__ import annotations

TURBULENT = ("sensible", "latent", "turbulent")
"""Observables of the turbulent fluxes H, LE and H + LE [W m-2]."""


def scope_notes(cfg) -> list[str]:
    """One-line notes on a config's limits of scope (empty when there are none).

    The heat-only column of version 1 closes the surface energy balance with a
    fixed Bowen ratio beta = H / LE (:class:`jlsm.physics.BowenRatioExchange`),
    so LE / H = 1 / beta at every step: fitting ``sensible``, ``latent`` or
    ``turbulent`` cannot separate H from LE and says nothing about soil water.
    """
    o = cfg.get("observations", {})
    fitted = [k for k in o.get("variables", {}) if k.split("@")[0] in TURBULENT]
    if not fitted:
        return []
    beta = cfg.get("model", {}).get("parameters", {}).get("beta", 1.5)  # build_problem's base value
    fixed = cfg.get("parameters", {}).get("fixed", {}).get("beta", beta)
    free = "beta" in cfg.get("parameters", {}).get("free", {})
    ratio = "1/beta with beta free (one value for the whole window)" if free else (
        f"1/beta = {1 / float(fixed):.3g}" if isinstance(fixed, (int, float)) and fixed else "1/beta")
    return [
        f"{cfg.get('_path', 'config')}: fits {', '.join(fitted)} with the heat-only model, whose Bowen-ratio closure fixes "
        f"LE/H at {ratio} and has no soil water: H and LE are not separated; the version-2 land model "
        "(soil water, vegetation, aerodynamics: jlsm.land, `jlsm calibrate`) models them (docs/scope.md)"
    ]
