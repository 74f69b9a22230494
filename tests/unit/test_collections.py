"""requirements.yml, galaxy.yml and the roles' meta declare what the roles use and what CI runs.

A user installing from Galaxy gets exactly the collections the roles call (a
missing one fails at the first task that uses it), at versions the tests ran;
the roles declare the ansible-core release CI runs, not an older one nobody tested.
"""
import importlib.metadata
import json
import pathlib
import re

import yaml

from conftest import ROOT

FQCN = re.compile(r"^([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*$")
# Lookups, queries and filters named in Jinja expressions.
IN_JINJA = re.compile(r"(?:lookup|query)\(\s*['\"]([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\.[a-z0-9_]+"
                      r"|\|\s*([a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)\.[a-z0-9_]+")
# Not called by any role: Molecule's docker driver needs it to reach the test hosts.
TEST_ONLY = {"community.docker"}
GALAXY = yaml.safe_load((ROOT / "galaxy.yml").read_text(encoding="utf-8"))
# This repository's own collection: its filters are called by their full names.
OWN = f"{GALAXY['namespace']}.{GALAXY['name']}"


def playbook_files():
    files = [ROOT / "site.yml", *(ROOT / "playbooks").glob("*.yml"), *(ROOT / "molecule").rglob("*.yml")]
    files += [path for path in (ROOT / "roles").rglob("*.yml") if "meta" not in path.parts]
    return files


def keys(node):
    if isinstance(node, dict):
        for key, value in node.items():
            yield key
            yield from keys(value)
    elif isinstance(node, list):
        for item in node:
            yield from keys(item)


def collections_used():
    used = {}
    for path in playbook_files():
        text = path.read_text(encoding="utf-8")
        names = {m.group(1) for key in keys(yaml.safe_load(text)) if isinstance(key, str) and (m := FQCN.match(key))}
        names |= {a or b for a, b in IN_JINJA.findall(text)}
        for name in names - {"ansible.builtin", OWN}:
            used.setdefault(name, []).append(str(path.relative_to(ROOT)))
    return used


def declared():
    spec = yaml.safe_load((ROOT / "requirements.yml").read_text(encoding="utf-8"))
    return {entry["name"]: entry["version"] for entry in spec["collections"]}


def installed_version(name):
    namespace, collection = name.split(".")
    import ansible_collections

    base = pathlib.Path(next(iter(ansible_collections.__path__)))
    return json.loads((base / namespace / collection / "MANIFEST.json").read_text())["collection_info"]["version"]


def test_the_scan_finds_the_collections_the_roles_are_known_to_call():
    """So that the comparison below cannot pass on an empty scan."""
    used = collections_used()
    assert {"ansible.posix", "community.crypto", "community.general"} <= set(used), used
    assert "roles/django_app/tasks/settings.yml" in used["community.general"]  # a lookup, not a module


def test_requirements_yml_lists_every_collection_the_roles_use_and_no_other():
    used = set(collections_used())
    assert set(declared()) == used | TEST_ONLY, f"used: {sorted(used)}, declared: {sorted(declared())}"


def test_each_minimum_is_the_version_the_tests_run():
    for name, spec in declared().items():
        assert spec.startswith(">="), (name, spec)
        assert spec.removeprefix(">=") == installed_version(name), (
            f"{name}: requirements.yml says {spec}, the tests run {installed_version(name)} "
            "(from the ansible package in requirements-dev.txt); bump one or the other")


def test_roles_declare_the_ansible_core_release_the_tests_run():
    core = importlib.metadata.version("ansible-core")
    pinned = re.search(r"^ansible-core==(\S+)$", (ROOT / "requirements-dev.txt").read_text(), re.M).group(1)
    assert core == pinned
    release = ".".join(core.split(".")[:2])
    metas = sorted((ROOT / "roles").glob("*/meta/main.yml"))
    assert len(metas) >= 7
    for meta in metas:
        info = yaml.safe_load(meta.read_text(encoding="utf-8"))["galaxy_info"]
        assert info["min_ansible_version"] == release, meta


def test_galaxy_yml_depends_on_what_requirements_yml_lists_for_the_roles():
    """Installing the collection pulls in exactly the collections its roles call."""
    wanted = {name: spec for name, spec in declared().items() if name not in TEST_ONLY}
    assert GALAXY["dependencies"] == wanted


def test_the_collection_requires_the_ansible_core_release_the_tests_run():
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text(encoding="utf-8"))
    release = ".".join(importlib.metadata.version("ansible-core").split(".")[:2])
    assert runtime["requires_ansible"] == f">={release}.0"


def test_the_changelog_has_an_entry_for_the_collection_version():
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## {re.escape(GALAXY['version'])} \(\d{{4}}-\d{{2}}-\d{{2}}\)$", changelog, re.M), GALAXY["version"]
    assert (ROOT / GALAXY["license_file"]).is_file()


def test_the_roles_call_their_filters_by_the_collections_name():
    """A role inside an installed collection loads no filter_plugins/ of its own."""
    assert not list((ROOT / "roles").glob("*/filter_plugins"))
    filters = set()
    for path in (ROOT / "plugins" / "filter").glob("*.py"):
        filters |= set(re.findall(r'^\s+"([a-z_]+)": [a-z_]+,$', path.read_text(encoding="utf-8"), re.M))
    assert len(filters) >= 9, filters
    for path in playbook_files():
        text = path.read_text(encoding="utf-8")
        for name in filters:
            bare = re.search(rf"\|\s*{name}\b", text)
            assert not bare, f"{path.relative_to(ROOT)}: | {name} needs its full name {OWN}.{name}"
