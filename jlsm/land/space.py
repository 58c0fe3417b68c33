"""Default calibration space of the version-2 land model (about 12 parameters).

The parameters a flux-tower calibration on Qh and Qle adjusts (the kind the MdPL
study calibrates): stomatal (r_s,min, radiation and VPD sensitivities), soil
water (wilting and critical points, b, K_sat, porosity, root depth), soil
evaporation, roughness (z0m / h_c, kB^-1) and interception capacity; optional
extras: LAI scale and vegetation albedo.

Ranges. Where a parameter has values tabulated per class, the range is the
span of the published table values (Noah VEGPARM.TBL over the vegetated
MODIFIED_IGBP_MODIS_NOAH classes; Noah SOILPARM.TBL STAS over the 12 mineral
textures; Noah-MP MPTABLE.TBL Z0MVT/HVT), widened so that every class default
lies strictly inside: by a factor 2 in log space for scale parameters, by
0.05 m3 m-3 for water contents. Where no table exists the range brackets the
published values as stated per parameter (see docs/land_model.md). Positive
scale quantities use a log-sigmoid transform (bounds positive); fractions a
sigmoid.
"""

from __future__ import annotations

from ..params import Parameter, ParameterSpace
from .pft import canonical_pft

# name: (path, (lo, hi), transform, units, role, source of the range)
SPACE = {
    "rs_min": ("stomata.rs_min", (20.0, 600.0), "log-sigmoid", "s m-1",
               "minimum stomatal resistance (canopy conductance scale)",
               "VEGPARM.TBL RS 40-300 over vegetated classes, x/2"),
    "rgl": ("stomata.rgl", (15.0, 200.0), "log-sigmoid", "W m-2",
            "radiation stress parameter of f_SW (Noilhan & Planton 1989)",
            "VEGPARM.TBL RGL 30-100, x/2"),
    "hs": ("stomata.hs", (18.0, 110.0), "log-sigmoid", "(kg kg-1)-1",
           "vapour-deficit sensitivity of f_VPD (Jacquemin & Noilhan 1990)",
           "VEGPARM.TBL HS 36.25-54.53, x/2"),
    "theta_wilt": ("soil.theta_wilt", (0.005, 0.19), "sigmoid", "m3 m-3",
                   "wilting point: transpiration stops",
                   "SOILPARM.TBL WLTSMC 0.010-0.138, -0.005 / +0.05"),
    "theta_crit": ("soil.theta_crit", (0.19, 0.46), "sigmoid", "m3 m-3",
                   "critical point: transpiration unstressed above it",
                   "SOILPARM.TBL REFSMC 0.236-0.412, +-0.05"),
    "b": ("hydraulics.b", (1.4, 23.0), "log-sigmoid", "1",
          "Clapp-Hornberger pore-size exponent (K and psi curves)",
          "SOILPARM.TBL BB 2.79-11.55, x/2"),
    "k_sat": ("hydraulics.k_sat", (4.9e-7, 2.8e-5), "log-sigmoid", "m s-1",
              "saturated hydraulic conductivity (infiltration, drainage)",
              "SOILPARM.TBL SATDK 9.74e-7-1.41e-5, x/2"),
    "theta_sat": ("hydraulics.theta_sat", (0.29, 0.53), "sigmoid", "m3 m-3",
                  "porosity (saturated water content)",
                  "SOILPARM.TBL MAXSMC 0.339-0.476, +-0.05"),
    "root_depth": ("vegetation.root_depth", (0.05, 4.0), "log-sigmoid", "m",
                   "rooting depth (water available to transpiration)",
                   "VEGPARM.TBL NROOT 1-4 Noah layers = 0.1-2.0 m, /2; up to 4 m (Canadell et al. 1996 "
                   "maximum rooting depths of grasses and shrubs are several metres)"),
    "evaporation_factor": ("soil.evaporation_factor", (0.1, 10.0), "log-sigmoid", "1",
                           "factor on the soil surface resistance (soil evaporation)",
                           "a decade either side of the published resistance (Sellers et al. 1992); "
                           "Cuntz et al. (2016) found this resistance the most sensitive Noah-MP parameter"),
    "z0m_ratio": ("roughness.z0m_ratio", (0.025, 0.25), "log-sigmoid", "1",
                  "momentum roughness length over canopy height",
                  "MPTABLE.TBL Z0MVT/HVT 0.05-0.12 and FAO-56 0.123, x/2"),
    "kb_inv": ("roughness.kb_inv", (0.5, 12.0), "log-sigmoid", "1",
               "kB^-1 = ln(z0m/z0h): excess resistance to heat",
               "about 2 for dense vegetation (Garratt & Hicks 1973) to about 10 over sparse, "
               "arid canopies (Verhoef et al. 1997)"),
    "interception_per_lai": ("vegetation.interception_per_lai", (0.05, 0.4), "log-sigmoid", "kg m-2",
                             "canopy water capacity per unit LAI",
                             "MPTABLE.TBL CH2OP 0.1 mm (Dickinson 1984), /2 and x4"),
}
EXTRA = {
    "lai_scale": ("vegetation.lai_scale", (0.5, 2.0), "log-sigmoid", "1",
                  "factor on the forcing's LAI", "a factor 2 either side of the climatology (this module's choice)"),
    "albedo_vegetation": ("radiation.albedo_vegetation", (0.06, 0.35), "sigmoid", "1",
                          "albedo of the closed canopy",
                          "VEGPARM.TBL ALBEDOMIN/MAX 0.12-0.30 over vegetated classes, /2 and +0.05"),
}


def default_space(pft: str = "GRA", *, extra: bool = False, fixed=None) -> ParameterSpace:
    """The default calibration space (13 parameters; 15 with ``extra``).

    Args:
        pft: plant functional type (checked; the ranges are the same for every
            type, so the space is valid around every type's defaults).
        extra: also free the LAI scale and the vegetation albedo.
        fixed: optional mapping path -> value written before the free ones.

    Returns:
        a :class:`jlsm.ParameterSpace` whose parameters carry dotted paths into
        :class:`jlsm.land.LandModel`.
    """
    canonical_pft(pft)
    table = dict(SPACE, **(EXTRA if extra else {}))
    free = {
        name: Parameter(name, bounds, transform, units, path)
        for name, (path, bounds, transform, units, _, _) in table.items()
    }
    return ParameterSpace(free, fixed=fixed)


def describe() -> list[dict]:
    """Rows (name, path, role, units, lower, upper, transform, range source) of the space and extras."""
    rows = []
    for group, table in (("default", SPACE), ("extra", EXTRA)):
        for name, (path, (lo, hi), transform, units, role, source) in table.items():
            rows.append(dict(name=name, path=path, role=role, units=units, lower=lo, upper=hi,
                             transform=transform, source=source, group=group))
    return rows
