"""The README's variable reference is the roles' argument specs, no more and no less."""
import importlib.util

import yaml

from conftest import ROOT

_spec = importlib.util.spec_from_file_location("variables", ROOT / "scripts" / "variables.py")
variables = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(variables)


def test_the_readme_lists_exactly_what_the_specs_say():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert readme == variables.readme_with(variables.markdown()), (
        "README.md's variable list differs from roles/*/meta/argument_specs.yml: "
        "run python3 scripts/variables.py --write")


def test_every_role_is_listed_with_every_option_of_its_spec():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme[readme.index(variables.BEGIN):readme.index(variables.END)]
    roles = sorted(path.parent.parent.name for path in (ROOT / "roles").glob("*/meta/argument_specs.yml"))
    assert sorted(variables.ROLES) == roles
    for role in roles:
        spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        options = spec["argument_specs"]["main"]["options"]
        assert f"### {role}\n" in block
        for name in options:
            assert f"| `{name}` |" in block, (role, name)


def test_every_default_of_a_role_is_in_its_spec():
    """A variable with a default but no spec entry would be missing from the list."""
    for role in variables.ROLES:
        defaults_file = ROOT / "roles" / role / "defaults" / "main.yml"
        if not defaults_file.exists():
            continue
        spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        options = spec["argument_specs"]["main"]["options"]
        assert set(yaml.safe_load(defaults_file.read_text()) or {}) <= set(options), role
