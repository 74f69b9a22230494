"""Every input a role reads from another role is declared in its own spec, with the owner's default.

scripts/shared_inputs.py writes those declarations; these tests fail when a role
starts reading another role's input without them, or when a copy drifts.
"""
import importlib.util

import yaml

from conftest import ROOT

SPEC = importlib.util.spec_from_file_location("shared_inputs", ROOT / "scripts" / "shared_inputs.py")
shared = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(shared)


def options(role, entry="main"):
    return shared.spec_of(role)[entry]["options"]


def test_the_generated_blocks_are_up_to_date():
    assert shared.main(["--check"]) == 0


def test_what_the_server_roles_and_nginx_read_of_django_app():
    # Read only by the templates (the unit's User=, ExecStart=), or needed by a default.
    assert {"django_app_user", "django_app_virtualenv", "django_app_env_file", "django_app_project"} <= set(shared.reads("gunicorn"))
    assert "django_app_asgi_application" in shared.reads("daphne")
    assert "django_app_asgi_application" not in shared.reads("uwsgi")
    assert {"django_app_static_url", "django_app_websocket_path", "django_app_allowed_hosts"} <= set(shared.reads("nginx"))
    assert shared.reads("redis") == []


def test_each_role_declares_and_defaults_every_input_it_reads_from_another_role():
    for role in shared.ROLES:
        for name in shared.reads(role):
            source = shared.owner(name)
            assert name in options(role), f"roles/{role} reads {name} of {source} without declaring it"
            mine, theirs = options(role)[name], options(source)[name]
            assert mine.get("type") == theirs.get("type"), (role, name)
            if name in shared.defaults_of(source):
                assert shared.defaults_of(role)[name] == shared.defaults_of(source)[name], (role, name)


def test_render_entry_points_take_the_shared_inputs_too():
    for role in ("gunicorn", "uwsgi", "daphne", "nginx", "django_app"):
        assert set(options(role)) <= set(options(role, "render")), role


def test_a_new_read_makes_the_blocks_stale(monkeypatch):
    """The check is not vacuous: a template that starts reading an input of nginx is caught."""
    own_text = shared.own_text
    monkeypatch.setattr(shared, "own_text", lambda role: own_text(role) + "{{ nginx_listen_port }}")
    assert "nginx_listen_port" in shared.reads("gunicorn")
    current = (ROOT / "roles/gunicorn/meta/argument_specs.yml").read_text()
    wanted = shared.with_spec_block(current, shared.reads("gunicorn"))
    assert wanted != current
    assert "nginx_listen_port" in yaml.safe_load(wanted)["argument_specs"]["main"]["options"]
