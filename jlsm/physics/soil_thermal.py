"""Soil thermal properties from soil moisture (unfrozen soil).

Conductivity (Johansen 1975, in the form of Peters-Lidard et al. 1998, J. Atmos.
Sci. 55, 1209-1224, eqs. 9-14, as coded in Noah's TDFCND, Chen & Dudhia 2001):

    lambda   = Ke (lambda_sat - lambda_dry) + lambda_dry                [W m-1 K-1]
    lambda_s = lambda_q^q lambda_o^(1 - q)           (solids; q = quartz fraction)
    lambda_sat = lambda_s^(1 - theta_sat) lambda_w^theta_sat     (unfrozen, saturated)
    rho_d    = (1 - theta_sat) 2700                  (dry density [kg m-3])
    lambda_dry = (0.135 rho_d + 64.7) / (2700 - 0.947 rho_d)
    Ke       = log10(S_r) + 1        ("fine" soil, S_r > 0.1; Noah's choice)
               0.7 log10(S_r) + 1    ("coarse" soil, S_r > 0.05)
    S_r      = theta / theta_sat

Constants (Peters-Lidard et al. 1998; Noah TDFCND): lambda_q = 7.7 (quartz),
lambda_o = 2.0 (other minerals, for q > 0.2; Noah uses 3.0 for q <= 0.2, a jump in q
that we leave to the caller through ``k_other``), lambda_w = 0.57 W m-1 K-1 (water),
particle density 2700 kg m-3.

Smoothness: Johansen sets Ke = 0 below the S_r threshold, which has zero gradient
there (and for the coarse formula a small jump). Here Ke = softplus_w(a log10(S_r) + 1)
with w = ``kersten_smoothing`` (default 0.02): identical to the published form to
within w exp(-x/w) once x = a log10(S_r) + 1 exceeds a few w (within 1e-10 for
x > 0.5), continuous, tending to 0 (lambda -> lambda_dry) as S_r -> 0, with finite
derivatives everywhere (double-where around log10 at S_r = 0).

Heat capacity (de Vries 1963, mineral + water; the air term of Noah's HCPCT is
available through ``c_air``):

    C = (1 - theta_sat) c_mineral + theta c_water + (theta_sat - theta) c_air   [J m-3 K-1]

with c_mineral = 2.0e6 (Noah CSOIL), c_water = 4.2e6 (Noah CH2O) J m-3 K-1.
"""

from __future__ import annotations

import jax.numpy as jnp

K_QUARTZ = 7.7
"""Thermal conductivity of quartz [W m-1 K-1] (Peters-Lidard et al. 1998; Noah THKQTZ)."""
K_OTHER_MINERALS = 2.0
"""Conductivity of other soil minerals [W m-1 K-1] for quartz fraction > 0.2
(Peters-Lidard et al. 1998; Noah THKO; 3.0 for quartz <= 0.2)."""
K_WATER = 0.57
"""Thermal conductivity of liquid water [W m-1 K-1] (Peters-Lidard et al. 1998; Noah THKW)."""
PARTICLE_DENSITY = 2700.0
"""Soil particle density [kg m-3] used for the dry density (Peters-Lidard et al. 1998, eq. 12)."""
C_MINERAL = 2.0e6
"""Volumetric heat capacity of soil minerals [J m-3 K-1] (Noah CSOIL, Chen & Dudhia 2001)."""
C_WATER = 4.2e6
"""Volumetric heat capacity of liquid water [J m-3 K-1] (Noah CH2O; de Vries 1963: 4.18e6)."""
C_AIR_NOAH = 1004.0
"""Noah's CAIR, heat capacity of soil air [J m-3 K-1] (optional ``c_air``)."""


def _softplus(x, width):
    """width log(1 + exp(x / width)): a smooth max(x, 0), overflow-safe."""
    y = x / width
    return width * (jnp.maximum(y, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(y))))


def dry_conductivity(theta_sat):
    """lambda_dry [W m-1 K-1] from porosity (Peters-Lidard et al. 1998, eq. 12; Johansen 1975)."""
    rho_d = (1.0 - theta_sat) * PARTICLE_DENSITY
    return (0.135 * rho_d + 64.7) / (PARTICLE_DENSITY - 0.947 * rho_d)


def saturated_conductivity(theta_sat, quartz=0.4, k_other=K_OTHER_MINERALS):
    """lambda_sat [W m-1 K-1] of unfrozen saturated soil (Peters-Lidard et al. 1998, eqs. 10-11).

    Args:
        theta_sat: porosity [m3 m-3].
        quartz: quartz fraction of the solids [-] (Noah SOILPARM.TBL QTZ).
        k_other: conductivity of the other minerals [W m-1 K-1].
    """
    k_solids = K_QUARTZ**quartz * k_other ** (1.0 - quartz)
    return k_solids ** (1.0 - theta_sat) * K_WATER**theta_sat


def kersten_number(theta, theta_sat, *, fine=True, kersten_smoothing=0.02):
    """Kersten number Ke [-] (Johansen 1975; Peters-Lidard et al. 1998, eq. 14), smoothed.

    ``fine=True``: Ke = log10(S_r) + 1 (Noah TDFCND); ``fine=False``: 0.7 log10(S_r) + 1.
    Bounded below by 0 through a softplus of width ``kersten_smoothing`` (see module docstring).
    """
    s_r = theta / theta_sat
    positive = s_r > 0.0
    log_s = jnp.log10(jnp.where(positive, s_r, 1.0))  # double-where: finite gradient at S_r = 0
    slope = 1.0 if fine else 0.7
    ke = _softplus(slope * log_s + 1.0, kersten_smoothing)
    return jnp.where(positive, ke, 0.0)


def johansen_conductivity(
    theta, theta_sat, quartz=0.4, *, k_other=K_OTHER_MINERALS, fine=True, kersten_smoothing=0.02
):
    """Thermal conductivity lambda [W m-1 K-1] of unfrozen soil (Johansen 1975; Peters-Lidard et al. 1998).

    Args:
        theta: volumetric liquid water content [m3 m-3], any shape.
        theta_sat: porosity [m3 m-3].
        quartz: quartz fraction of the solids [-].
        k_other: conductivity of the non-quartz minerals [W m-1 K-1] (2.0; Noah uses 3.0 if quartz <= 0.2).
        fine: the fine-soil Kersten number (Noah's choice) or the coarse one.
        kersten_smoothing: width of the smooth lower bound of Ke [-].
    """
    k_dry = dry_conductivity(theta_sat)
    k_sat = saturated_conductivity(theta_sat, quartz, k_other)
    ke = kersten_number(theta, theta_sat, fine=fine, kersten_smoothing=kersten_smoothing)
    return ke * (k_sat - k_dry) + k_dry


def volumetric_heat_capacity(theta, theta_sat, *, c_mineral=C_MINERAL, c_water=C_WATER, c_air=0.0):
    """Volumetric heat capacity C [J m-3 K-1] of unfrozen soil (de Vries 1963; Noah HCPCT).

    C = (1 - theta_sat) c_mineral + theta c_water + (theta_sat - theta) c_air, with ``theta``
    [m3 m-3] and ``theta_sat`` [m3 m-3]; c_air defaults to 0 (Noah: 1004).
    """
    return (1.0 - theta_sat) * c_mineral + theta * c_water + (theta_sat - theta) * c_air
