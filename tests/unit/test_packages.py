"""The app's pins win; the run fails early when they are too old for the stack, and warns on advisories."""
import re

import pytest
import yaml

from conftest import ROOT, load

packages = load("plugins/filter/django_app_packages.py", "django_app_packages")
DEFAULTS = yaml.safe_load((ROOT / "roles/django_app/defaults/main.yml").read_text())
STACK_DEFAULTS = yaml.safe_load((ROOT / "roles/django_stack/defaults/main.yml").read_text())

# The shape of `pip install --dry-run --report` (pip 23, Debian 12's venv).
REPORT = {
    "version": "1",
    "install": [
        {"metadata": {"name": "Django", "version": "5.1.15"}, "requested": True},
        {"metadata": {"name": "gunicorn", "version": "19.9.0"}, "requested": True},
        {"metadata": {"name": "channels_redis", "version": "4.0.0"}, "requested": True},
        {"metadata": {"name": "uvicorn-worker", "version": "0.4.0"}, "requested": True},
    ],
}


def test_a_report_becomes_versions_by_canonical_name():
    resolved = packages.django_app_resolved(REPORT)
    assert resolved == {"django": "5.1.15", "gunicorn": "19.9.0", "channels-redis": "4.0.0", "uvicorn-worker": "0.4.0"}
    import json
    assert packages.django_app_resolved(json.dumps(REPORT)) == resolved


def test_the_stack_adds_its_servers_without_versions_so_the_apps_pins_win():
    for component, names in STACK_DEFAULTS["django_stack_python_packages"].items():
        for name in names:
            assert not re.search(r"[<>=!~]", name), f"{component}: {name} would override the app's pin"


MINIMUMS = DEFAULTS["django_app_package_minimums"]
SYNC = ["gunicorn"]
UVICORN = ["gunicorn", "uvicorn[standard]", "uvicorn-worker"]


def test_a_pin_below_the_minimum_is_explained_with_its_line_and_the_override():
    resolved = packages.django_app_resolved(REPORT)
    requirements = "Django==5.1.15\n# the Procfile era\ngunicorn==19.9.0  # pinned\n"
    problems = packages.django_app_too_old(resolved, SYNC, MINIMUMS, [], requirements)
    assert len(problems) == 1
    problem = problems[0]
    for text in ("gunicorn 19.9.0", "gunicorn==19.9.0, line 3", "below 20.1.0", "wsgi_app",
                 "gunicorn>=20.1.0", "django_app_ignore_package_minimums"):
        assert text in problem, (text, problem)


def test_the_uvicorn_worker_needs_a_newer_gunicorn_than_sync_workers():
    """Gunicorn 22 serves sync workers, but cannot load the worker class the uvicorn stacks hand it."""
    resolved = {"gunicorn": "22.0.0", "uvicorn-worker": "0.4.0"}
    assert packages.django_app_too_old(resolved, SYNC, MINIMUMS) == []
    problems = packages.django_app_too_old(resolved, UVICORN, MINIMUMS)
    assert len(problems) == 1, problems  # the highest minimum missed, once
    assert "below 23.0.0" in problems[0] and "worker_class_str" in problems[0]
    # Below both: still one line, naming the higher minimum.
    problems = packages.django_app_too_old({"gunicorn": "19.9.0"}, UVICORN, MINIMUMS)
    assert len(problems) == 1 and "below 23.0.0" in problems[0]


def test_only_the_stacks_own_packages_are_held_to_a_minimum():
    resolved = packages.django_app_resolved(REPORT)
    # channels-redis 4.0.0 is too old only where the stack uses the channel layer.
    assert packages.django_app_too_old({"channels-redis": "4.0.0"}, SYNC, MINIMUMS) == []
    too_old = packages.django_app_too_old(resolved, ["channels-redis"], MINIMUMS)
    assert len(too_old) == 1 and "channels-redis 4.0.0" in too_old[0] and "below 4.1.0" in too_old[0]
    assert "lead to it" in too_old[0]  # not pinned in a requirements text given


def test_a_redis_cache_needs_django_4():
    """django_app_cache=redis adds the redis client; resolve.yml holds Django to the minimums too."""
    resolved = {"django": "3.2.25", "gunicorn": "22.0.0", "redis": "5.2.1"}
    requirements = "Django==3.2.25\ngunicorn==22.0.0\n"
    assert packages.django_app_too_old(resolved, SYNC + ["django"], MINIMUMS, [], requirements) == []
    problems = packages.django_app_too_old(resolved, SYNC + ["redis", "django"], MINIMUMS, [], requirements)
    assert len(problems) == 1, problems
    for text in ("django 3.2.25", "Django==3.2.25, line 1", "below 4.0", "RedisCache",
                 "django_app_cache: project", "django>=4.0"):
        assert text in problems[0], (text, problems[0])
    assert packages.django_app_too_old({**resolved, "django": "4.2.30"}, SYNC + ["redis", "django"], MINIMUMS) == []


def test_the_override_deploys_an_old_pin_anyway():
    resolved = packages.django_app_resolved(REPORT)
    assert packages.django_app_too_old(resolved, UVICORN, MINIMUMS, ["Gunicorn"]) == []


def test_versions_at_or_above_the_minimum_pass():
    for rule in MINIMUMS:
        name = rule["package"]
        stack = [name] + ([rule["with"]] if rule.get("with") else [])
        highest = max((r["version"] for r in MINIMUMS if r["package"] == name), key=packages.Version)
        assert packages.django_app_too_old({name: highest}, stack, MINIMUMS) == []
        assert packages.django_app_too_old({name: "999.0"}, stack, MINIMUMS) == []
        assert packages.django_app_too_old({name: "0.1"}, stack, MINIMUMS) != []


@pytest.mark.parametrize("version, expected", [("21.2.0", 2), ("22.0.0", 1), ("23.0.0", 0)])
def test_advisories_name_the_version_and_the_fix(version, expected):
    found = packages.django_app_advisories({"gunicorn": version}, DEFAULTS["django_app_package_advisories"])
    assert len(found) == expected, found
    for line in found:
        assert line.startswith(f"gunicorn {version}: CVE-")
        assert "fixed in" in line


def test_missing_names_the_server_packages_a_virtualenv_lacks():
    resolved = {"gunicorn": "23.0.0", "uvicorn": "0.30.6", "django": "5.2.8"}
    assert packages.django_app_missing(resolved, ["gunicorn", "uvicorn[standard]>=0.30", "Uvicorn_Worker>=0.2"]) == [
        "uvicorn-worker"]
    assert packages.django_app_missing(resolved, ["gunicorn"]) == []


def test_pip_explanation_keeps_the_conflict_and_drops_the_noise():
    """As pip 23 (Debian 12's venv) prints a conflict: ERROR lines on stderr, the cause on stdout."""
    result = {
        "stderr": "WARNING: Running pip as the 'root' user can result in broken permissions\n"
                  "ERROR: Cannot install Django==3.2.25 and dj-database-url==2.3.0 because these package "
                  "versions have conflicting dependencies.\n"
                  "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/...\n"
                  "[notice] A new release of pip is available: 23.0.1 -> 26.0\n",
        "stdout": "Collecting Django==3.2.25\n  Downloading Django-3.2.25-py3-none-any.whl (7.9 MB)\n"
                  "INFO: pip is looking at multiple versions of dj-database-url\n\n"
                  "The conflict is caused by:\n    The user requested Django==3.2.25\n"
                  "    dj-database-url 2.3.0 depends on Django>=4.2\n\nTo fix this you could try to:\n",
    }
    text = packages.django_app_pip_explanation(result)
    assert text.startswith("ERROR: Cannot install Django==3.2.25 and dj-database-url==2.3.0")
    assert "ResolutionImpossible" in text
    assert "The conflict is caused by:\n    The user requested Django==3.2.25\n    dj-database-url 2.3.0 depends on Django>=4.2" in text
    assert "root" not in text and "notice" not in text and "Downloading" not in text
    # Other failures (no such version) have no cause section: the ERROR lines alone.
    text = packages.django_app_pip_explanation(
        {"stdout": "", "stderr": "ERROR: No matching distribution found for gunicorn==99\n"})
    assert text == "ERROR: No matching distribution found for gunicorn==99"
    assert packages.django_app_pip_explanation("x" * 5000, limit=100).endswith("[...]")


def test_the_readme_table_lists_every_minimum_with_its_reason():
    readme = (ROOT / "README.md").read_text()
    for rule in MINIMUMS:
        when = f"it also installs `{rule['with']}`" if rule.get("with") else "it installs the package"
        row = f"| `{rule['package']}` | {rule['version']} | {when} | {rule['reason']} |"
        assert row in readme, row
    for advisory in DEFAULTS["django_app_package_advisories"]:
        assert advisory["advisory"].split(",")[0] in readme
