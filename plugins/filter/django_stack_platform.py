"""The values a role takes from the host's distribution, from platforms/<system>.yml.

    {{ ansible_facts | django_stack.deploy.django_stack_platform('nginx') }}
    {{ 'Debian-13' | django_stack.deploy.django_stack_platform('nginx') }}
    {{ ansible_facts | django_stack.deploy.django_stack_platform_problem }}  -> '' or why not

The system is `<distribution>-<major version>` of the gathered facts (or given
as such a string, as playbooks/render.yml does). Its file may start from
another one (`inherit: Debian-12`) and list only what differs; sections merge
key by key. A system without a file is an error that names the supported ones,
so a role stops on its first use of a value, before it changes anything.
"""
import copy
import functools
import pathlib

import yaml

PLATFORMS = pathlib.Path(__file__).resolve().parents[2] / "platforms"


class PlatformError(ValueError):
    pass


def supported():
    """Names of the systems with a file, for messages: 'Debian 12 (bookworm), ...'."""
    names = []
    for path in sorted(PLATFORMS.glob("*.yml")):
        names.append(_load(path.stem).get("name", path.stem))
    return ", ".join(names)


@functools.lru_cache(maxsize=None)
def _load(system, seen=()):
    path = PLATFORMS / f"{system}.yml"
    if not path.is_file():
        raise PlatformError(f"no file {path.name} in {PLATFORMS}")
    data = yaml.safe_load(path.read_text()) or {}
    parent = data.pop("inherit", None)
    if parent is None:
        return data
    if parent in seen + (system,):
        raise PlatformError(f"{path.name}: inherit loops back to {parent}")
    merged = {key: (dict(value) if isinstance(value, dict) else value)
              for key, value in _load(parent, seen + (system,)).items()}
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def system_of(facts_or_name):
    """'Debian-12' from gathered facts, or the name itself when given one."""
    if isinstance(facts_or_name, str):
        return facts_or_name
    facts = dict(facts_or_name or {})
    distribution = facts.get("distribution")
    version = facts.get("distribution_major_version")
    if not distribution or not version:
        raise PlatformError("the host's facts are missing (distribution, distribution_major_version): "
                            "gather facts before the roles run (gather_facts: true, or the setup module)")
    return f"{distribution}-{version}"


def django_stack_platform(facts_or_name, section=None):
    """The system's values (one section of them when named); PlatformError for an unknown system."""
    system = system_of(facts_or_name)
    if "/" in system or system.startswith("."):
        raise PlatformError(f"not a system name: {system!r}")
    if not (PLATFORMS / f"{system}.yml").is_file():
        raise PlatformError(f"this host runs {system.replace('-', ' ')}, which the roles do not support; "
                            f"they support {supported()}. Another system needs its own file "
                            f"platforms/{system}.yml (see platforms/Debian-13.yml).")
    values = copy.deepcopy(_load(system))
    if section is None:
        return values
    if section not in values:
        raise PlatformError(f"platforms/{system}.yml has no section {section!r}")
    return values[section]


def django_stack_platform_problem(facts_or_name):
    """Why the roles cannot run on this system ('' when they can): for an assert's message."""
    try:
        django_stack_platform(facts_or_name)
    except PlatformError as error:
        return str(error)
    return ""


class FilterModule:
    def filters(self):
        return {"django_stack_platform": django_stack_platform,
                "django_stack_platform_problem": django_stack_platform_problem}
