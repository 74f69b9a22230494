"""The repository as a collection another Ansible repository installs.

Built with `ansible-galaxy collection build`, installed into empty directories
from the tarball and from a git URL, then used by a playbook that lives outside
this repository (a temporary directory with no ansible.cfg), by full names
only: the playbook django_stack.deploy.site, whose roles run as
django_stack.deploy.<role> from the installed copy.
The host was converged by this repository's site.yml with the same inventory,
so the installed copy must find nothing to change, and the site still serves:
this run is the scenario's idempotence step (molecule.yml).

The git URL installs the repository's HEAD: on a clone, as CI runs, the same
tree the tarball is built from.
"""
import json
import os
import pathlib
import subprocess

import pytest

from test_any_project import fetch, shared

OUTSIDE_PLAYBOOK = """\
- name: Deploy with the installed collection
  ansible.builtin.import_playbook: django_stack.deploy.site
"""


def project():
    return pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])


def outside_env(collections):
    """The environment of a user's own repository: nothing of this one's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    return {**env, "ANSIBLE_COLLECTIONS_PATH": str(collections), "ANSIBLE_PIPELINING": "true",
            "ANSIBLE_CALLBACK_RESULT_FORMAT": "json"}


def run(cmd, cwd, env):
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False)
    assert out.returncode == 0, f"{cmd}:\n{out.stdout[-4000:]}\n{out.stderr[-4000:]}"
    return out.stdout


def installed_files(collections):
    files = json.loads((collections / "ansible_collections/django_stack/deploy/FILES.json").read_text())
    return sorted(entry["name"] for entry in files["files"])


@pytest.fixture(scope="module")
def installs(tmp_path_factory):
    """{source: collections directory} for the tarball and the git URL."""
    work = tmp_path_factory.mktemp("collection")
    env = outside_env(work / "none")
    run(["ansible-galaxy", "collection", "build", "--output-path", str(work), str(project())], work, env)
    tarballs = list(work.glob("django_stack-deploy-*.tar.gz"))
    assert len(tarballs) == 1, tarballs
    found = {}
    for source, spec in (("tarball", str(tarballs[0])), ("git", f"git+file://{project()}")):
        target = work / source
        # Every dependency is already there (the ansible package): nothing is fetched.
        out = run(["ansible-galaxy", "collection", "install", "-p", str(target), spec], work, outside_env(target))
        assert "django_stack.deploy:" in out and "was installed successfully" in out, out
        found[source] = target
    return found


def test_tarball_and_git_url_install_the_same_files(installs):
    tarball, git = installed_files(installs["tarball"]), installed_files(installs["git"])
    assert tarball == git
    assert "roles/nginx/tasks/main.yml" in tarball and "plugins/filter/django_stack_values.py" in tarball
    assert not [name for name in tarball if name.startswith(("molecule/", "tests/", ".venv/", "collections/"))]
    # The roles' templates/ link to the one copy at the top, inside the collection.
    link = installs["git"] / "ansible_collections/django_stack/deploy/roles/nginx/templates"
    assert link.is_symlink() and (link / "nginx/site.conf.j2").is_file()


def test_a_playbook_outside_the_repository_uses_the_installed_collection(installs, tmp_path, host):
    collections = installs["tarball"]
    env = outside_env(collections)
    listed = run(["ansible-galaxy", "collection", "list", "django_stack.deploy", "--format", "json"], tmp_path, env)
    assert list(json.loads(listed)) == [str(collections / "ansible_collections")], listed
    (tmp_path / "deploy.yml").write_text(OUTSIDE_PLAYBOOK)
    out = run(["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "deploy.yml"], tmp_path, env)
    recap = out[out.rindex("PLAY RECAP"):]
    assert "failed=0" in recap and "changed=0" in recap, (recap, shared.changed_tasks(out))
    for role in ("django_stack", "django_app", "gunicorn", "nginx"):
        assert f"TASK [django_stack.deploy.{role} : " in out, role
    assert fetch(host, "/admin/login/").status == 200
