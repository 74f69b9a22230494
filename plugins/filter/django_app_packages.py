"""What a trial resolve of the app's requirements (pip install --dry-run --report) says.

    {{ report | django_app_resolved }}
        {'gunicorn': '22.0.0', 'django': '5.1.15', ...}: every package pip would
        install, by canonical name (lower case, '-' for '_' and '.').
    {{ resolved | django_app_too_old(packages, minimums, ignored) }}
        One line per server package that resolved below the version the stack
        needs, naming the version, the minimum, the reason and how to override.
    {{ resolved | django_app_advisories(advisories) }}
        One line per resolved package with a published advisory.
    {{ resolved | django_app_missing(packages) }}
        Canonical names of the server packages `resolved` does not hold (a
        virtualenv built for another stack, found by a rollback).
    {{ stderr | django_app_pip_explanation }}
        pip's own explanation of a failed resolve, without the noise around it.
"""
import json
import re

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version


def django_app_resolved(report):
    """{canonical name: version} of the packages in a pip installation report."""
    if isinstance(report, (str, bytes)):
        report = json.loads(report)
    return {
        canonicalize_name(item["metadata"]["name"]): item["metadata"]["version"]
        for item in report.get("install", [])
    }


def _names(packages):
    """Canonical names of pip requirement strings ('uvicorn[standard]' is uvicorn)."""
    return [canonicalize_name(Requirement(package).name) for package in packages]


def _pinned_by(requirements_text, name):
    """How the requirements file names `name` ('gunicorn==22.0.0, line 2'), or ''."""
    for number, raw in enumerate(str(requirements_text).splitlines(), start=1):
        line = raw.split(" #", 1)[0].split(" --hash", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue
        try:
            requirement = Requirement(line)
        except ValueError:
            continue
        if canonicalize_name(requirement.name) == name:
            return f"{line}, line {number}"
    return ""


def django_app_missing(resolved, packages):
    """Canonical names of the pip requirement strings `packages` that `resolved` ({name: version}) lacks."""
    return [name for name in _names(packages) if name not in resolved]


def django_app_too_old(resolved, packages, minimums, ignored=(), requirements_text=""):
    """Server packages of the stack that resolved below their minimum, explained.

    minimums: [{package, version, reason, with (optional)}]; a rule with `with`
    holds only when that package is among `packages` too. Per package, the
    highest minimum it misses is reported.
    requirements_text: the app's requirements file, to quote the line that pins it.
    """
    ignored = {canonicalize_name(name) for name in ignored}
    stack = set(_names(packages))
    missed = {}
    for rule in minimums:
        name = canonicalize_name(rule["package"])
        applies = name in stack and (not rule.get("with") or canonicalize_name(rule["with"]) in stack)
        if not applies or name in ignored or name not in resolved:
            continue
        if Version(resolved[name]) < Version(str(rule["version"])):
            if name not in missed or Version(str(rule["version"])) > Version(str(missed[name]["version"])):
                missed[name] = rule
    problems = []
    for name, rule in missed.items():
        pin = _pinned_by(requirements_text, name)
        source = f"the app's requirements pin {pin}" if pin else "the app's requirements lead to it"
        problems.append(
            f"{name} {resolved[name]} ({source}) is below "
            f"{rule['version']}, the oldest this stack works with: {rule['reason']}. Pin "
            f"{name}>={rule['version']} in the app's requirements, or add {name} to "
            "django_app_ignore_package_minimums to deploy it anyway"
        )
    return problems


def django_app_advisories(resolved, advisories):
    """Resolved packages below the fixed version of a published advisory."""
    found = []
    for advisory in advisories:
        name = canonicalize_name(advisory["package"])
        if name in resolved and Version(resolved[name]) < Version(str(advisory["fixed"])):
            found.append(f"{name} {resolved[name]}: {advisory['advisory']} (fixed in {advisory['fixed']})")
    return found


# Lines pip prints around its explanation that say nothing about the conflict.
_NOISE = re.compile(r"^(WARNING: Running pip as the 'root' user|\[notice\]|WARNING: You are using pip version)")


def django_app_pip_explanation(result, limit=3000):
    """pip's explanation of a failed resolve, from a command result (or its stderr).

    pip writes its ERROR lines to stderr and, for a conflict, what caused it to
    stdout ("The conflict is caused by: ..."), after a long log of downloads.
    """
    if isinstance(result, dict):
        stdout, stderr = str(result.get("stdout", "")), str(result.get("stderr", ""))
    else:
        stdout, stderr = "", str(result)
    errors = [line for line in stderr.splitlines() if line.strip() and not _NOISE.match(line)]
    start = next((i for i, line in enumerate(errors) if line.startswith("ERROR:")), 0)
    cause = stdout.split("The conflict is caused by:", 1)
    lines = errors[start:] + (["The conflict is caused by:", *cause[1].strip("\n").splitlines()] if len(cause) == 2 else [])
    text = "\n".join(lines)
    return text if len(text) <= limit else text[:limit] + " [...]"


class FilterModule:
    def filters(self):
        return {
            "django_app_resolved": django_app_resolved,
            "django_app_too_old": django_app_too_old,
            "django_app_missing": django_app_missing,
            "django_app_advisories": django_app_advisories,
            "django_app_pip_explanation": django_app_pip_explanation,
        }
