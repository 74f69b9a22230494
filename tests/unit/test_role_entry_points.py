"""Every entry point a playbook calls a role by has an argument spec of its own."""
import yaml

from conftest import ROOT


def role_calls(node):
    """(role, tasks_from) of every import_role/include_role under node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("ansible.builtin.import_role", "ansible.builtin.include_role") and isinstance(value, dict):
                yield value["name"].split(".")[-1], value.get("tasks_from", "main")
            else:
                yield from role_calls(value)
    elif isinstance(node, list):
        for item in node:
            yield from role_calls(item)


def test_each_entry_point_used_by_a_playbook_has_a_spec():
    calls = set()
    for playbook in [ROOT / "site.yml", *(ROOT / "playbooks").glob("*.yml")]:
        calls |= set(role_calls(yaml.safe_load(playbook.read_text(encoding="utf-8"))))
    assert ("django_app", "finish") in calls and ("gunicorn", "main") in calls, calls
    for role, entry in sorted(calls):
        specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
        assert entry in specs, f"roles/{role}: tasks_from {entry} has no argument spec"
        assert (ROOT / "roles" / role / "tasks" / f"{entry}.yml").is_file()


def test_each_spec_names_an_entry_point_that_exists():
    for spec_file in (ROOT / "roles").glob("*/meta/argument_specs.yml"):
        for entry in yaml.safe_load(spec_file.read_text())["argument_specs"]:
            assert (spec_file.parent.parent / "tasks" / f"{entry}.yml").is_file(), (spec_file, entry)
