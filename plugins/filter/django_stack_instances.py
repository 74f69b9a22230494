"""Instance lists of the server roles, with what each instance leaves out filled in.

    {{ gunicorn_instances | django_stack.deploy.django_stack_with_defaults(defaults) }}

Each instance is a dict with at least a name; its other keys must be keys of
`defaults` (a typo such as `worker` for `workers` fails instead of being
ignored), names must be unique, and state is present or absent.
"""


def django_stack_with_defaults(instances, defaults):
    """The instances, each as defaults | instance; ValueError naming the first wrong one."""
    if isinstance(instances, (str, bytes, dict)) or not hasattr(instances, "__iter__"):
        raise ValueError(f"the instances must be a list of dicts, not {type(instances).__name__}")
    result, names = [], set()
    for position, instance in enumerate(list(instances), 1):
        if not isinstance(instance, dict) or not str(instance.get("name") or ""):
            raise ValueError(f"instance {position} must be a dict with a name, got {instance!r}")
        name = str(instance["name"])
        unknown = sorted(set(instance) - set(defaults) - {"name"})
        if unknown:
            raise ValueError(f"instance {name}: unknown keys {', '.join(unknown)}; "
                             f"known: name, {', '.join(sorted(defaults))}")
        if name in names:
            raise ValueError(f"instance {name} is listed twice")
        names.add(name)
        merged = {**defaults, **instance}
        if merged.get("state") not in ("present", "absent"):
            raise ValueError(f"instance {name}: state must be present or absent, not {merged.get('state')!r}")
        result.append(merged)
    return result


class FilterModule:
    def filters(self):
        return {"django_stack_with_defaults": django_stack_with_defaults}
