"""sciml's one YAML reader: safe, and exponent floats (YAML 1.2) are numbers in files, overrides and recipes."""

import pytest

from sciml.core.config import load_yaml, parse_override, read_yaml
from sciml.core.errors import ConfigError


@pytest.mark.parametrize("text,value", [("1e-4", 1e-4), ("-2.5E+3", -2500.0), ("5e3", 5000.0), ("1.0e-4", 1e-4)])
def test_exponent_floats_are_numbers(text, value, tmp_path):
    assert load_yaml(text) == value and isinstance(load_yaml(text), float)
    assert parse_override(f"train.lr={text}") == (["train", "lr"], value)
    (tmp_path / "c.yaml").write_text(f"dt: {text}\n")
    assert read_yaml(tmp_path / "c.yaml") == {"dt": value}


@pytest.mark.parametrize(
    "text,value", [("10", 10), ("e5", "e5"), ("1e", "1e"), ("2010-01-01", None), ("[1, 2]", [1, 2])]
)
def test_other_scalars_keep_their_yaml_types(text, value):
    parsed = load_yaml(text)
    if value is None:  # a date stays a date, as in YAML 1.1
        assert type(parsed).__name__ == "date"
    else:
        assert parsed == value and type(parsed) is type(value)


def test_python_objects_are_refused(tmp_path):
    (tmp_path / "c.yaml").write_text("x: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_yaml(tmp_path / "c.yaml")
