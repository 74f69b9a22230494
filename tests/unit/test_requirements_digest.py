"""The digest that names a virtualenv (plugins/modules/django_app_requirements_digest.py).

Two projects get the same virtualenv exactly when their digests are equal, so the
digest must change with every input a pip install reads, and with nothing else.
The module runs as Ansible runs it: its arguments as JSON on stdin.
"""
import json
import pathlib
import subprocess
import sys

MODULE = pathlib.Path(__file__).resolve().parents[2] / "plugins" / "modules" / "django_app_requirements_digest.py"


def digest(project, requirements="requirements.txt", packages=("gunicorn",), python=sys.executable, **more):
    args = {"ANSIBLE_MODULE_ARGS": {"project": str(project), "requirements": requirements,
                                    "python": python, "packages": list(packages), **more}}
    out = subprocess.run([sys.executable, str(MODULE)], input=json.dumps(args), capture_output=True,
                         text=True, check=False)
    return json.loads(out.stdout)


def project(tmp_path, name="project", **files):
    root = tmp_path / name
    for relative, text in {"requirements.txt": "Django==5.2.19\n", "app/views.py": "X = 1\n", **files}.items():
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        (root / relative).write_text(text, encoding="utf-8")
    return root


def test_the_same_inputs_anywhere_give_the_same_digest_and_code_is_not_one(tmp_path):
    first = project(tmp_path)
    second = project(tmp_path, "elsewhere", **{"app/views.py": "X = 2\n"})
    assert digest(first)["digest"] == digest(second)["digest"]
    assert digest(first)["files"] == ["requirements.txt"]
    assert not digest(first)["changed"]


def test_the_interpreter_and_the_server_packages_are_inputs_their_order_is_not(tmp_path):
    root = project(tmp_path)
    base = digest(root, packages=["gunicorn", "uvicorn-worker"])["digest"]
    assert digest(root, packages=["uvicorn-worker", "gunicorn"])["digest"] == base
    assert digest(root, packages=["gunicorn"])["digest"] != base
    other = tmp_path / "python3.99"
    other.write_text("#!/bin/sh\necho '3.99.0 (main)'\n", encoding="utf-8")
    other.chmod(0o755)
    assert digest(root, python=str(other), packages=["gunicorn", "uvicorn-worker"])["digest"] != base


def test_included_files_are_read_and_their_content_counts(tmp_path):
    root = project(tmp_path, **{
        "requirements.txt": "-r requirements/base.txt\n--constraint=requirements/constraints.txt  # pins\n",
        "requirements/base.txt": "Django==5.2.19\n-r more.txt\n",
        "requirements/more.txt": "six==1.17.0\n",
        "requirements/constraints.txt": "asgiref==3.8.1\n",
    })
    result = digest(root)
    assert result["files"] == ["requirements.txt", "requirements/base.txt", "requirements/constraints.txt",
                               "requirements/more.txt"]
    (root / "requirements/more.txt").write_text("six==1.16.0\n", encoding="utf-8")
    assert digest(root)["digest"] != result["digest"]


def test_a_local_path_it_installs_makes_its_content_an_input(tmp_path):
    root = project(tmp_path, **{"requirements.txt": "Django==5.2.19\n-e .\n./libs/tool \\\n  # continued\n",
                                "libs/tool/setup.py": "x = 1\n", "pyproject.toml": "[project]\n"})
    result = digest(root)
    assert result["local_paths"] == [".", "libs/tool"]
    (root / "app/views.py").write_text("X = 2\n", encoding="utf-8")
    changed = digest(root)["digest"]
    assert changed != result["digest"]
    # Build clutter is not content.
    (root / "app/__pycache__").mkdir()
    (root / "app/__pycache__/views.cpython-311.pyc").write_bytes(b"\0")
    assert digest(root)["digest"] == changed


def test_a_missing_include_fails_naming_it_and_what_includes_it(tmp_path):
    result = digest(project(tmp_path, **{"requirements.txt": "-r requirements/prod.txt\n"}))
    assert result["failed"]
    assert "requirements/prod.txt, included by requirements.txt" in result["msg"]
    # Named by the file that includes it, not by the one read last.
    result = digest(project(tmp_path, "nested", **{
        "requirements.txt": "-r base.txt\n-r missing.txt\n", "base.txt": "Django==5.2.19\n"}))
    assert result["failed"]
    assert "missing.txt, included by requirements.txt" in result["msg"]


def test_an_interpreter_that_does_not_run_fails(tmp_path):
    result = digest(project(tmp_path), python="/nonexistent/python3")
    assert result["failed"]
    assert "/nonexistent/python3" in result["msg"]


def test_the_code_digest_names_a_release_by_its_code_alone(tmp_path):
    """The release id of a directory source: the same code anywhere gives the same id; any change another."""
    first = project(tmp_path)
    same = project(tmp_path, "elsewhere")
    (same / "app" / "__pycache__").mkdir()
    (same / "app" / "__pycache__" / "views.cpython-311.pyc").write_bytes(b"\0")
    (same / "pkg.egg-info").mkdir()
    (same / "pkg.egg-info" / "PKG-INFO").write_text("x", encoding="utf-8")
    changed = project(tmp_path, "changed", **{"app/views.py": "X = 2\n"})
    added = project(tmp_path, "added", **{"app/new.py": ""})
    linked = project(tmp_path, "linked")
    (linked / "app" / "link.py").symlink_to("missing.py")
    codes = {name: digest(root)["code_digest"] for name, root in
             {"first": first, "same": same, "changed": changed, "added": added, "linked": linked}.items()}
    assert codes["first"] == codes["same"]
    assert len({codes["first"], codes["changed"], codes["added"], codes["linked"]}) == 4


def test_a_release_on_the_host_is_compared_by_its_code(tmp_path):
    root = project(tmp_path)
    twin = project(tmp_path, "twin")
    other = project(tmp_path, "other", **{"app/views.py": "X = 3\n"})

    def compared(path):
        args = {"ANSIBLE_MODULE_ARGS": {"project": str(root), "requirements": "requirements.txt",
                                        "python": sys.executable, "compare": str(path)}}
        out = subprocess.run([sys.executable, str(MODULE)], input=json.dumps(args), capture_output=True,
                             text=True, check=False)
        return json.loads(out.stdout)

    result = compared(twin)
    assert result["compared_digest"] == result["code_digest"]
    result = compared(other)
    assert result["compared_digest"] not in (None, result["code_digest"])
    assert compared(tmp_path / "absent")["compared_digest"] is None


def test_it_reads_the_requirements_and_the_versions_of_a_virtualenv_built_before(tmp_path):
    """One call tells what the resolve needs: the file's text, and whether (and
    with which versions) a virtualenv of this digest was built."""
    root = project(tmp_path)
    venvs = tmp_path / "venvs"
    args = {"built": {"directory": str(venvs), "versions_file": "versions.json"}}
    first = digest(root, **args)
    assert first["requirements_text"] == "Django==5.2.19\n"
    assert first["built_versions"] is None
    (venvs / first["digest"][:16]).mkdir(parents=True)
    (venvs / first["digest"][:16] / "versions.json").write_text('{"django": "5.2.19"}', encoding="utf-8")
    assert digest(root, **args)["built_versions"] == {"django": "5.2.19"}
    # Another digest's virtualenv is not this one's.
    assert digest(root, packages=("uwsgi",), **args)["built_versions"] is None


def test_a_missing_requirements_file_is_reported_not_failed(tmp_path):
    """The role explains it (it knows where the project came from)."""
    result = digest(project(tmp_path), requirements="requirements/production.txt")
    assert "failed" not in result, result
    assert (result["digest"], result["requirements_text"]) == (None, None)
    assert result["code_digest"]
