"""Releases: each deploy builds releases/<id> beside the live one, checks and
migrates it there, then switches the `current` link; the servers then serve it
(a Gunicorn reload loads the new path), and nginx its static files. A release
that cannot start is never switched to; one that fails its health check is
switched back. Old releases go.

Each step commits to the project's git repository on the host and deploys with
the real site.yml, as test_virtualenvs.py does (same helpers). Runs after
test_any_project.py (it changes the project).
"""
import shlex

from test_any_project import APP, fetch
from test_any_project import shared
from test_virtualenvs import WORK, about, commit, deploy, main_pid

ROOT = f"/srv/{APP}"
UNIT = f"{APP}-gunicorn.service"
LOAD_CODES = "/tmp/release-load-codes"


def link(host, name):
    return host.run(f"readlink -f {ROOT}/{name}").stdout.strip()


def releases(host):
    return set(host.run(f"ls {ROOT}/releases").stdout.split())


def head(host):
    """The release id a deploy of the repository's main derives: its commit, 12 digits."""
    return host.run(f"git -C {WORK} rev-parse HEAD").stdout.strip()[:12]


def requirements(host):
    return host.file(f"{WORK}/requirements.txt").content_string


def start_load(host):
    """Requests to the app through nginx, 10 a second, for at most 150 s, their statuses in a file."""
    curl = shlex.join(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}\\n", "--max-time", "10",
                       *shared.curl_options(), shared.site_url("/admin/login/")])
    script = f"end=$((SECONDS + 150)); while [ $SECONDS -lt $end ]; do {curl}; sleep 0.1; done"
    out = host.run(f"rm -f {LOAD_CODES}; nohup timeout 160 bash -c {shlex.quote(script)} "
                   f"> {LOAD_CODES} 2>/dev/null & echo $!")
    assert out.rc == 0, out.stderr
    return out.stdout.strip()


def stop_load(host, pid):
    """The statuses the load saw, by count."""
    host.run(f"kill {pid}; sleep 1")
    counts = {}
    for code in host.file(LOAD_CODES).content_string.split():
        counts[code] = counts.get(code, 0) + 1
    return counts


def still_served_after_a_restart(host, revision):
    """The live release is what the servers start from: a restart (a reboot, a crash) serves it too."""
    assert host.run(f"systemctl restart {UNIT}").rc == 0
    assert about(host, revision)["revision"] == revision


def test_a_release_is_built_beside_the_live_one_and_switched_to(host):
    before = link(host, "current")
    assert before.startswith(f"{ROOT}/releases/"), before
    pid = main_pid(host)

    commit(host, 10, requirements(host))
    load = start_load(host)
    deploy()
    codes = stop_load(host, load)

    release = f"{ROOT}/releases/{head(host)}"
    assert link(host, "current") == release
    assert link(host, "previous") == before
    # A code-only release is served after a reload, by the master that ran
    # before: the workers import the app through the link.
    assert about(host, 10)["revision"] == 10
    assert main_pid(host) == pid
    # Every request during the deploy was answered by the old or the new release.
    assert set(codes) == {"200"}, codes
    assert sum(codes.values()) > 50, codes

    # The release holds its code (root's), its virtualenv link and its own
    # static files (collected by the app user); nginx serves the live ones.
    code = host.file(f"{release}/app/plainsite/urls.py")
    assert code.user == "root" and code.mode == 0o644
    assert host.file(f"{release}/venv").is_symlink
    static = host.file(f"{release}/static")
    assert static.user == APP and static.mode == 0o755
    assert host.file(f"{release}/static/admin/css/base.css").exists
    css = fetch(host, "/static/admin/css/base.css")
    assert css.status == 200
    assert css.body == host.file(f"{release}/static/admin/css/base.css").content_string


def test_a_release_that_cannot_start_is_never_switched_to(host):
    live, previous = link(host, "current"), link(host, "previous")
    commit(host, 11, requirements(host))
    host.run(f"printf '\\nraise RuntimeError(\"revision 11 cannot start\")\\n' >> {WORK}/plainsite/urls.py && "
             f"cd {WORK} && git -c user.name=test -c user.email=test@example.invalid commit -q -am broken && "
             f"git push -q /srv/git/plainsite.git main")
    load = start_load(host)
    result = shared.run_site()
    codes = stop_load(host, load)

    # Ansible prints a failure on stderr.
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0
    assert "Check the release (manage.py check --deploy)" in output
    assert "RuntimeError: revision 11 cannot start" in output
    assert (link(host, "current"), link(host, "previous")) == (live, previous)
    assert set(codes) == {"200"}, codes
    assert about(host, 10)["revision"] == 10
    still_served_after_a_restart(host, 10)


def test_a_release_that_fails_its_health_check_is_switched_back(host):
    """The health URL (/) answers 500 in revision 12: the run switches back to 10 and fails."""
    live = link(host, "current")
    commit(host, 12, requirements(host))
    failing = ("\n\ndef health(request):\n    raise RuntimeError('revision 12 is unhealthy')\n\n\n"
               "urlpatterns += [path('', health)]\n")
    host.run(f"printf %s {shlex.quote(failing)} >> {WORK}/plainsite/urls.py && "
             f"cd {WORK} && git -c user.name=test -c user.email=test@example.invalid commit -q -am unhealthy && "
             f"git push -q /srv/git/plainsite.git main")
    result = shared.run_site()

    # Ansible prints a failure on stderr.
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, output[-3000:]
    assert "The health check failed" in output
    assert "answered 500" in output
    assert f"Switched back to release {live.rsplit('/', 1)[1]}" in output
    assert link(host, "current") == live
    # The release that failed stays on the host, not live; every server was
    # restarted on the release switched back to.
    assert f"{ROOT}/releases/{head(host)}" != live
    assert host.file(f"{ROOT}/releases/{head(host)}").is_directory
    assert about(host, 10)["revision"] == 10
    still_served_after_a_restart(host, 10)


def test_old_releases_and_the_virtualenvs_only_they_use_go(host):
    """With django_app_keep_releases=2: the two made last, and the previous one, stay."""
    unhealthy = head(host)
    live = link(host, "current").rsplit("/", 1)[1]
    commit(host, 13, requirements(host))
    result = shared.run_site(*shared.json_vars(django_app_keep_releases=2))
    assert result.returncode == 0, result.stdout[-3000:]
    assert about(host, 13)["revision"] == 13
    assert releases(host) == {head(host), unhealthy, live}
    venvs = set(host.run(f"readlink -f {ROOT}/releases/*/venv").stdout.split())
    assert set(host.run(f"ls -d {ROOT}/venvs/*").stdout.split()) == venvs
    assert "live release: " + head(host) in result.stdout
    assert "previous release: " + live in result.stdout

    # Nothing left to do: a second run changes nothing.
    again = shared.run_site(*shared.json_vars(django_app_keep_releases=2))
    assert again.returncode == 0
    assert "changed=0" in again.stdout.split("PLAY RECAP", 1)[1]
