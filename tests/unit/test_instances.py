"""Instance lists of the server roles (plugins/filter/django_stack_instances.py)."""
import pytest

from conftest import load

with_defaults = load("plugins/filter/django_stack_instances.py", "django_stack_instances").django_stack_with_defaults

DEFAULTS = {"state": "present", "workers": 3, "bind": ""}


def test_each_instance_keeps_its_values_and_gets_the_rest():
    assert with_defaults([{"name": "a"}, {"name": "b", "workers": 8, "state": "absent"}], DEFAULTS) == [
        {"name": "a", "state": "present", "workers": 3, "bind": ""},
        {"name": "b", "state": "absent", "workers": 8, "bind": ""},
    ]


def test_a_generator_is_a_list_too():
    instances = (i for i in [{"name": "a"}])
    assert [i["name"] for i in with_defaults(instances, DEFAULTS)] == ["a"]


@pytest.mark.parametrize(("instances", "message"), [
    ({"name": "a"}, "must be a list of dicts, not dict"),
    ("a", "must be a list of dicts, not str"),
    ([{"workers": 2}], "instance 1 must be a dict with a name"),
    ([{"name": "a", "worker": 2}], "instance a: unknown keys worker; known: name, bind, state, workers"),
    ([{"name": "a"}, {"name": "a"}], "instance a is listed twice"),
    ([{"name": "a", "state": "stopped"}], "instance a: state must be present or absent, not 'stopped'"),
])
def test_a_wrong_list_is_refused_with_the_instance_named(instances, message):
    with pytest.raises(ValueError, match=message):
        with_defaults(instances, DEFAULTS)
