#!/usr/bin/python
"""Digest of everything a virtualenv built from a requirements file depends on."""
import hashlib
import json
import os
import re
import shlex
import shutil

from ansible.module_utils.basic import AnsibleModule

DOCUMENTATION = r"""
module: django_app_requirements_digest
short_description: Digest of what a virtualenv built from a requirements file depends on
description:
  - Reads a pip requirements file and every file it includes (C(-r), C(-c)),
    hashes the trees of the local paths it names (C(-e .), C(./libs/x)), and
    mixes in the interpreter's version and the extra packages.
  - Two projects with the same digest get the same virtualenv, so a deploy that
    changes code only reuses the one already built. Reads only; never changes anything.
options:
  project:
    description: The project's directory; the requirements file is relative to it.
    type: path
    required: true
  requirements:
    description: The requirements file, relative to O(project).
    type: str
    required: true
  python:
    description: The interpreter the virtualenv is made from; its C(sys.version) is part of the digest.
    type: str
    required: true
  packages:
    description: Packages installed next to the requirements (the stack's servers).
    type: list
    elements: str
    default: []
  compare:
    description:
      - Another copy of the project (a release already on the host), whose code
        digest is returned as RV(compared_digest); when absent or missing, none is.
    type: path
  built:
    description:
      - Where the virtualenvs already built are, each in a directory named by the
        first 16 characters of its digest, and the name of the JSON file of
        versions each holds. When the one of this digest has that file, it is
        returned as RV(built_versions) (one module call instead of a stat and a read).
    type: dict
    suboptions:
      directory:
        description: The directory of the virtualenvs.
        type: path
        required: true
      versions_file:
        description: The file of versions inside each virtualenv.
        type: str
        required: true
author: django-stack
"""

EXAMPLES = r"""
- name: Work out which virtualenv the app needs
  django_stack.deploy.django_app_requirements_digest:
    project: /tmp/checkout
    requirements: requirements.txt
    python: /usr/bin/python3
    packages: [gunicorn]
    built:
      directory: /srv/mysite/venvs
      versions_file: django-stack-versions.json
  register: digest
"""

RETURN = r"""
digest:
  description: Hex SHA-256 of the inputs; null when the requirements file does not exist.
  returned: success
  type: str
requirements_text:
  description: The text of the requirements file O(requirements); null when it does not exist.
  returned: success
  type: str
built_versions:
  description:
    - The versions the virtualenv of this digest holds (the JSON file named in
      O(built)), by package name; null when none was built or O(built) is not given.
  returned: success
  type: dict
files:
  description: The requirements files read, relative to O(project), in the order read.
  returned: success
  type: list
  elements: str
code_digest:
  description:
    - Hex SHA-256 of the whole project's file names and contents, without C(.git),
      C(__pycache__), C(*.pyc) and C(*.egg-info). The same code gives the same digest.
  returned: success
  type: str
compared_digest:
  description: The code digest of O(compare), or null when it was not given or does not exist.
  returned: success
  type: str
local_paths:
  description: Local paths the requirements install from, relative to O(project); their content is in the digest.
  returned: success
  type: list
  elements: str
"""

INCLUDE = re.compile(r"^(-r|--requirement|-c|--constraint)(?:\s*=\s*|\s+)(\S+)$")
EDITABLE = re.compile(r"^(-e|--editable)(?:\s*=\s*|\s+)")
SKIP_DIRS = {"__pycache__", ".git", ".hg", ".svn", "build", "dist", ".tox", ".venv", "node_modules"}
# What a project's code digest leaves out: what git, Python and pip write beside the code.
CODE_SKIP_DIRS = {"__pycache__", ".git"}


def logical_lines(text):
    """pip's view of a requirements file: continuations joined, comments gone."""
    joined = re.sub(r"\\\r?\n", "", text)
    for raw in joined.splitlines():
        line = re.sub(r"(^|\s+)#.*$", "", raw).strip()
        if line:
            yield line


def local_path(line, base):
    """The local directory or file a requirement line installs from, or None."""
    target = EDITABLE.sub("", line).split(";", 1)[0].strip()
    if target.startswith("file:"):
        target = re.sub(r"^file:(//)?", "", target)
    elif "://" in target or " @ " in line or "@" in target.split("/", 1)[0]:
        return None
    if target.startswith((".", "/", "~")) or ("/" in target and os.path.exists(os.path.join(base, target))):
        return os.path.normpath(os.path.join(base, os.path.expanduser(target)))
    return None


def tree_digest(path, skip_dirs=SKIP_DIRS):
    """SHA-256 of a file, or of a directory's file names and contents (build clutter left out)."""
    digest = hashlib.sha256()
    if os.path.isfile(path):
        with open(path, "rb") as handle:
            digest.update(handle.read())
        return digest.hexdigest()
    for root, dirs, files in os.walk(path):
        dirs[:] = sorted(d for d in dirs if d not in skip_dirs and not d.endswith(".egg-info"))
        # os.walk does not enter a link to a directory: it counts as a link.
        for name in sorted(files + [d for d in dirs if os.path.islink(os.path.join(root, d))]):
            if name.endswith((".pyc", ".pyo")):
                continue
            full = os.path.join(root, name)
            digest.update(os.path.relpath(full, path).encode() + b"\0")
            if os.path.islink(full):
                # A link's target, not what it points at (which may not exist).
                digest.update(b"link\0" + os.readlink(full).encode() + b"\0")
                continue
            with open(full, "rb") as handle:
                digest.update(hashlib.sha256(handle.read()).digest())
    return digest.hexdigest()


def main():
    module = AnsibleModule(
        argument_spec={
            "project": {"type": "path", "required": True},
            "requirements": {"type": "str", "required": True},
            "python": {"type": "str", "required": True},
            "packages": {"type": "list", "elements": "str", "default": []},
            "compare": {"type": "path"},
            "built": {"type": "dict", "options": {
                "directory": {"type": "path", "required": True},
                "versions_file": {"type": "str", "required": True},
            }},
        },
        supports_check_mode=True,
    )
    project = module.params["project"]
    python = shlex.split(module.params["python"])
    if not python or shutil.which(python[0]) is None:
        module.fail_json(msg=f"The interpreter {module.params['python']} does not exist on the host.")
    rc, version, err = module.run_command(python + ["-c", "import sys; print(sys.version)"])
    if rc != 0:
        module.fail_json(msg=f"The interpreter {module.params['python']} does not run: {err.strip()}")

    digest = hashlib.sha256()
    digest.update(b"python\0" + version.strip().encode() + b"\0")
    for package in sorted(module.params["packages"]):
        digest.update(b"package\0" + package.encode() + b"\0")

    compare = module.params["compare"]
    code = {
        "code_digest": tree_digest(project, CODE_SKIP_DIRS),
        "compared_digest": tree_digest(compare, CODE_SKIP_DIRS) if compare and os.path.isdir(compare) else None,
    }
    # A missing requirements file is the caller's to explain (it knows where
    # the project came from): nothing to digest.
    top = os.path.normpath(module.params["requirements"])
    if not os.path.isfile(os.path.join(project, top)):
        module.exit_json(changed=False, digest=None, requirements_text=None, built_versions=None,
                         files=[], local_paths=[], **code)

    # (file, the file that includes it): read in the order pip meets them.
    files, local_paths, pending, top_text = [], [], [(top, None)], None
    while pending:
        relative, includer = pending.pop(0)
        if relative in files:
            continue
        full = os.path.join(project, relative)
        try:
            with open(full, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            including = f", included by {includer}" if includer else ""
            module.fail_json(msg=f"Cannot read the requirements file {relative}{including}: {error.strerror}")
        files.append(relative)
        if relative == top:
            top_text = text
        digest.update(b"file\0" + relative.encode() + b"\0" + text.encode() + b"\0")
        base = os.path.dirname(full)
        for line in logical_lines(text):
            included = INCLUDE.match(line)
            if included:
                pending.append((os.path.relpath(os.path.normpath(os.path.join(base, included.group(2))), project),
                                relative))
                continue
            path = local_path(line, base)
            if path is not None and os.path.exists(path):
                # Relative: the project is read from a scratch copy, at a new place each run.
                local_paths.append(os.path.relpath(path, project))
                digest.update(b"path\0" + local_paths[-1].encode() + b"\0" + tree_digest(path).encode() + b"\0")

    hexdigest = digest.hexdigest()
    built_versions = None
    built = module.params["built"]
    if built:
        marker = os.path.join(built["directory"], hexdigest[:16], built["versions_file"])
        if os.path.isfile(marker):
            with open(marker, encoding="utf-8") as handle:
                built_versions = json.load(handle)
    module.exit_json(
        changed=False,
        digest=hexdigest,
        requirements_text=top_text,
        built_versions=built_versions,
        files=files,
        local_paths=local_paths,
        **code,
    )


if __name__ == "__main__":
    main()
