"""The distribution's values (platforms/*.yml, plugins/filter/django_stack_platform.py)."""
import os
import subprocess

import pytest
import yaml

from conftest import ROOT, load

platform_filter = load("plugins/filter/django_stack_platform.py", "django_stack_platform")
platform = platform_filter.django_stack_platform
problem = platform_filter.django_stack_platform_problem

BOOKWORM = {"distribution": "Debian", "distribution_major_version": "12", "distribution_release": "bookworm"}
TRIXIE = {"distribution": "Debian", "distribution_major_version": "13", "distribution_release": "trixie"}
NOBLE = {"distribution": "Ubuntu", "distribution_major_version": "24"}


def test_the_facts_pick_the_file():
    assert platform(BOOKWORM)["name"] == "Debian 12 (bookworm)"
    assert platform(TRIXIE)["name"] == "Debian 13 (trixie)"
    assert platform(BOOKWORM, "nginx")["version"] == "1.22.1"
    assert platform(TRIXIE, "nginx")["version"] == "1.26.3"


def test_an_inheriting_file_keeps_every_value_it_does_not_change():
    twelve, thirteen = platform("Debian-12"), platform("Debian-13")
    assert set(thirteen) == set(twelve)
    for section, values in twelve.items():
        if isinstance(values, dict):
            assert set(thirteen[section]) == set(values), section
    assert thirteen["supervisor"] == twelve["supervisor"]
    assert thirteen["nginx"]["user"] == twelve["nginx"]["user"] == "www-data"


def test_every_role_finds_its_section_in_every_file():
    for path in sorted((ROOT / "platforms").glob("*.yml")):
        values = platform(path.stem)
        for section in ("django_app", "nginx", "supervisor", "redis"):
            assert isinstance(values[section], dict), (path.name, section)


def test_a_returned_value_is_a_copy():
    platform("Debian-12", "nginx")["user"] = "nobody"
    assert platform("Debian-12", "nginx")["user"] == "www-data"


@pytest.mark.parametrize("facts", [NOBLE, "Ubuntu-24", {"distribution": "Debian", "distribution_major_version": "11"}])
def test_an_unsupported_system_is_named_with_the_supported_ones(facts):
    message = problem(facts)
    assert "which the roles do not support" in message
    assert "Debian 12 (bookworm), Debian 13 (trixie)" in message
    with pytest.raises(ValueError, match="do not support"):
        platform(facts)


def test_missing_facts_say_to_gather_them():
    assert "gather facts" in problem({})
    assert problem(BOOKWORM) == ""


def test_a_path_is_not_a_system():
    with pytest.raises(ValueError, match="not a system name"):
        platform("../galaxy")


def test_render_stops_on_an_unsupported_system_before_writing(tmp_path):
    dest = tmp_path / "out"
    result = subprocess.run(
        ["ansible-playbook", str(ROOT / "playbooks" / "render.yml"), "-e", f"render_dest={dest}",
         "-e", "render_system=Ubuntu-24"],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
    )
    assert result.returncode != 0
    assert "this host runs Ubuntu 24, which the roles do not support" in " ".join(result.stdout.split())
    assert "Debian 12 (bookworm), Debian 13 (trixie)" in " ".join(result.stdout.split())
    assert not dest.exists()


def test_each_role_meta_lists_the_supported_releases():
    releases = sorted(platform(p.stem)["name"].split("(")[1].rstrip(")")
                      for p in (ROOT / "platforms").glob("Debian-*.yml"))
    for meta in sorted((ROOT / "roles").glob("*/meta/main.yml")):
        platforms = yaml.safe_load(meta.read_text())["galaxy_info"]["platforms"]
        debian = [p for p in platforms if p["name"] == "Debian"]
        assert debian and sorted(debian[0]["versions"]) == releases, meta
