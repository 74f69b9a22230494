"""Virtualenvs by content: a code-only deploy does no pip work; new requirements
get a new virtualenv, built beside the running one, which the servers restart
onto, and the one before stays.

Each step commits to the project's git repository on the host (prepare.yml made
it) and deploys with the real site.yml. The project reports what serves it
through a view the test commits: its revision, the virtualenv its process runs
from, and whether a package only the second requirements name is importable.
Runs after the other tests of this scenario (it changes the project).
"""
import json
import re
import shlex

from test_any_project import APP, fetch
from test_any_project import shared

WORK, BARE = "/srv/git/plainsite-work", "/srv/git/plainsite.git"
VENV, VENVS = f"/srv/{APP}/current/venv", f"/srv/{APP}/venvs"
ABOUT = '''
import importlib.util, os, sys
from django.http import JsonResponse


def about(request):
    return JsonResponse({"revision": REVISION, "venv": os.path.realpath(sys.prefix),
                         "six": importlib.util.find_spec("six") is not None})


urlpatterns += [path("about/", about)]
'''
PIP_TASKS = ("Resolve the requirements and the server packages",
             "Install the app's requirements and its server into the new virtualenv")


def commit(host, revision, requirements):
    """The fixture's urls.py with the about view, and these requirements, pushed to main."""
    urls = host.file(f"{WORK}/plainsite/urls.py").content_string.split("\nREVISION =")[0]
    files = {"plainsite/urls.py": f"{urls}\nREVISION = {revision}\n{ABOUT}", "requirements.txt": requirements}
    script = "set -e\n" + "".join(
        f"printf %s {shlex.quote(text)} > {WORK}/{name}\n" for name, text in files.items()) + (
        f"cd {WORK}\n"
        "git -c user.name=test -c user.email=test@example.invalid commit -q -am revision\n"
        f"git push -q {BARE} main\n")
    out = host.run(script)
    assert out.rc == 0, out.stderr


def deploy():
    result = shared.run_site()
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout


def status(output, task):
    """What a task of the run reported: ok, changed, skipping."""
    plain = re.sub(r"\x1b\[[0-9;]*m", "", output)
    section = plain.split(task, 1)[1].split("\nTASK [", 1)[0]
    words = [line.split(":", 1)[0].strip() for line in section.splitlines()]
    return next(word for word in words if word in ("ok", "changed", "skipping"))


def about(host, revision):
    """What the project's own view says once `revision` serves (old workers finish first)."""
    def answer():
        response = fetch(host, "/about/", timeout=5)
        return response.status == 200 and response.json()["revision"] == revision and response.json()
    served = shared.poll(answer, 30)
    assert served, fetch(host, "/about/").body[-2000:]
    return served


def venv(host):
    return host.run(f"readlink -f {VENV}").stdout.strip()


def venvs(host):
    return set(host.run(f"ls {VENVS}").stdout.split())


def main_pid(host):
    return host.run(f"systemctl show -p MainPID --value {APP}-gunicorn.service").stdout.strip()


def test_a_virtualenv_is_built_once_per_requirements_and_kept_for_the_way_back(host):
    requirements = host.file(f"{WORK}/requirements.txt").content_string
    first = venv(host)
    assert first.startswith(f"{VENVS}/"), first

    # Code only: the new code is served from the same virtualenv, and pip never runs.
    commit(host, 1, requirements)
    output = deploy()
    for task in PIP_TASKS:
        assert status(output, task) == "skipping", task
    assert about(host, 1) == {"revision": 1, "venv": first, "six": False}

    # New requirements: a new virtualenv beside the first, the servers restarted
    # onto it. An old build (neither the running one nor the one before) goes.
    stale = f"{VENVS}/0123456789abcdef"
    assert host.run(f"mkdir -p {stale}/bin && echo '{{}}' > {stale}/django-stack-versions.json").rc == 0
    pid = main_pid(host)
    commit(host, 2, requirements.rstrip("\n") + "\nsix==1.17.0\n")
    output = deploy()
    for task in PIP_TASKS:
        assert status(output, task) != "skipping", task
    second = venv(host)
    assert second != first
    assert about(host, 2) == {"revision": 2, "venv": second, "six": True}
    assert main_pid(host) != pid
    assert venvs(host) == {first.rsplit("/", 1)[1], second.rsplit("/", 1)[1]}
    versions = json.loads(host.file(f"{second}/django-stack-versions.json").content_string)
    assert versions["six"] == "1.17.0"

    # The one it ran from until now stays, whole, for the way back.
    assert host.file(f"{first}/django-stack-versions.json").exists
