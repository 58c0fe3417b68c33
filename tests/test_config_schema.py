"""Config files (jlsm.config.schema): the examples, ``extends``, and bad configs named by file, section and key."""

import tomllib

import pytest

from config_cases import CONFIG, EXAMPLES, message, setup_case
from jlsm import config as C
from jlsm.errors import ConfigError, DataFileError, JlsmError


def test_examples_load():
    # every inversion config of the examples (a site collection for jlsm.sites, with [sites], is not one)
    configs = [p for p in sorted(EXAMPLES.glob("*.toml")) if "sites" not in tomllib.loads(p.read_text())]
    assert len(configs) >= 6
    for path in configs:
        cfg = C.load_config(path)
        assert cfg["_path"] == str(path)
    wp = C.load_config(EXAMPLES / "west_phoenix.toml")
    surface = C.load_config(EXAMPLES / "west_phoenix_surface.toml")
    assert surface["observations"]["variables"] == {"ts": "Ts"}  # replaced, not merged
    assert surface["parameters"] == wp["parameters"] and surface["window"] == wp["window"]
    assert C.load_config(EXAMPLES / "west_phoenix_albedo_observed.toml")["parameters"]["fixed"] == {"albedo": "observed"}
    ref = wp["reference"]["values"]
    assert ref["h_eff"] == pytest.approx(12.5 * (1 + 1 / 2.75))


def test_extends_replaces_keys(tmp_path):
    base = setup_case(tmp_path)
    child = tmp_path / "child.toml"
    child.write_text('extends = "case.toml"\n[observations]\nvariables = { ts = "Ts" }\n')
    cfg = C.load_config(child)
    assert cfg["observations"]["variables"] == {"ts": "Ts"}
    assert cfg["observations"]["evaluate"] == C.load_config(base)["observations"]["evaluate"]
    loop = tmp_path / "loop.toml"
    loop.write_text('extends = "loop.toml"\n')
    with pytest.raises(ConfigError, match="cycle"):
        C.load_config(loop)


@pytest.mark.parametrize(
    "change, pattern",
    [
        (("[inversion]", "[inversion]\ncolour = 1"), r"unknown key\(s\) \['colour'\] in \[inversion\]"),
        (("[inversion]", "[inverse]"), r"unknown section\(s\) or key\(s\) \['inverse'\]"),
        (("[reference]", "[reference]\nweight = 2"), r"unknown key\(s\) \['weight'\] in \[reference\]"),
        (('start = "2012-05-01T00:00"', ""), r"\[window\] lacks required key\(s\) \['start'\]"),
        (('format = "urban-plumber"', ""), r"\[data\] lacks required key\(s\) \['format'\]"),
        (('format = "urban-plumber"', 'format = "csv"'), r"\[data\] format must be one of"),
        (('start = "2012-05-01T00:00"', 'start = "May 1st"'), r"\[window\] start 'May 1st' is not an ISO date-time"),
        (("fit_hours = 48", "fit_hours = -5"), r"\[window\] fit_hours must be > 0"),
        (("h_eff = [6.0, 60.0]", "h_eff = [60.0, 6.0]"), r"free.h_eff must be \[lo, hi\] with lo < hi"),
        (("h_eff = 17.0, ", ""), r"\[reference\] values must give a number for each free parameter"),
        (("[model]", "[model]\ninitial = \"warm\""), r"\[model\] initial must be"),
    ],
)
def test_bad_config(tmp_path, change, pattern):
    cfg = setup_case(tmp_path, text=CONFIG.replace(*change))
    with pytest.raises(ConfigError, match=pattern) as err:
        C.load_config(cfg)
    assert str(cfg) in message(err)


def test_unreadable_config(tmp_path):
    missing = tmp_path / "nothing.toml"
    with pytest.raises(DataFileError, match="nothing.toml: config file not found"):
        C.load_config(missing)
    bad = tmp_path / "bad.toml"
    bad.write_text("[data\nformat = 1\n")
    with pytest.raises(ConfigError, match=r"bad.toml: not valid TOML"):
        C.load_config(bad)
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\xff\xfe")
    with pytest.raises(ConfigError, match=r"binary.toml: cannot read the config: not a UTF-8 text file"):
        C.load_config(binary)
    with pytest.raises(ConfigError, match="is a folder"):
        C.load_config(tmp_path)
    assert issubclass(ConfigError, JlsmError) and issubclass(DataFileError, JlsmError)
