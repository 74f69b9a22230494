"""Checks of a project's files on the controller, before the host is touched.

    {{ path | django_stack_python_error }}          '' or 'line 3: invalid syntax'
    {{ path | django_stack_requirements_errors }}   [] or ['line 2: django>>=5 (...)']
"""
from packaging.requirements import InvalidRequirement, Requirement


def django_stack_python_error(path):
    """The first syntax error of a Python file, or '' when it compiles."""
    with open(path, "rb") as handle:
        source = handle.read()
    try:
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as error:
        return f"line {error.lineno}: {error.msg}"
    except ValueError as error:  # e.g. null bytes
        return str(error)
    return ""


def _is_pip_specific(line):
    """Lines pip understands that are not PEP 508 requirements."""
    return (
        line.startswith("-")  # -r, -c, -e, --index-url, --hash ...
        or line.startswith((".", "/"))  # local paths
        or "://" in line  # URLs, VCS requirements
    )


def django_stack_requirements_errors(path):
    """Lines of a pip requirements file that are not valid requirements."""
    errors = []
    with open(path, encoding="utf-8") as handle:
        lines = handle.read().replace("\\\n", "").splitlines()
    for number, raw in enumerate(lines, start=1):
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#") or _is_pip_specific(line):
            continue
        line = line.split(" --hash", 1)[0].strip()
        try:
            Requirement(line)
        except InvalidRequirement as error:
            errors.append(f"line {number}: {line} ({str(error).splitlines()[0]})")
    return errors


class FilterModule:
    def filters(self):
        return {
            "django_stack_python_error": django_stack_python_error,
            "django_stack_requirements_errors": django_stack_requirements_errors,
        }
