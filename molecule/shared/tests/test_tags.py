"""Tags: each one a complete, safe piece of work; none clears the note that work is due.

Runs once, in the scenario whose DJANGO_STACK_ONCE names "tags" (asgi-gunicorn).
"""
import os
import pathlib
import re
import subprocess

from conftest import APP, once, run_site

pytestmark = once("tags")

PENDING = f"/var/lib/{APP}/.manage-pending"
DOCUMENTED = {"nginx", "redis", "postgresql"}


def test_the_playbook_has_exactly_the_documented_tags():
    project = pathlib.Path(os.environ["MOLECULE_PROJECT_DIRECTORY"])
    listed = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], str(project / "site.yml"), "--list-tags"],
        capture_output=True, text=True, timeout=120, check=True).stdout
    tags = set()
    for found in re.findall(r"TAGS: \[([^\]]*)\]", listed):
        tags |= {tag.strip() for tag in found.split(",") if tag.strip()}
    # always and django_stack: the input checks and the plan, which every run needs.
    assert tags == DOCUMENTED | {"always", "django_stack"}, listed
    readme = (project / "README.md").read_text(encoding="utf-8")
    for tag in DOCUMENTED:
        assert f"| `--tags {tag}` |" in readme, tag


def workers(host):
    main = host.run(f"systemctl show -p MainPID --value {APP}-gunicorn.service").stdout.strip()
    return main, set(host.run(f"pgrep -P {main}").stdout.split())


def test_a_tagged_run_leaves_due_work_due_and_a_full_run_does_it(host):
    """As after a run that failed between the code and the reload: the note is there."""
    assert host.run(f"echo due > {PENDING} && chown root: {PENDING}").rc == 0
    main_before, workers_before = workers(host)
    for tag in sorted(DOCUMENTED):
        result = run_site("--tags", tag)
        assert result.returncode == 0, result.stdout[-3000:]
        assert host.file(PENDING).exists, f"--tags {tag} cleared the note without doing the work"
    assert workers(host) == (main_before, workers_before), "a tagged run reloaded the app server"

    result = run_site()
    assert result.returncode == 0, result.stdout[-3000:]
    assert not host.file(PENDING).exists
    migrate = result.stdout.split("TASK [django_stack.deploy.django_app : Apply database migrations]")[1].split("TASK [")[0]
    assert "skipping" not in migrate and "ok: [" in migrate, migrate
    main_after, workers_after = workers(host)
    assert main_after == main_before, "a reload, not a restart"
    assert workers_after and not workers_after & workers_before, "every worker is new after the reload"
