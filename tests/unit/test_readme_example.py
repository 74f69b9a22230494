"""The README's "Use the templates without Ansible" snippet works as printed."""
import re
import subprocess
import sys

from conftest import ROOT


def test_the_readme_snippet_renders_what_ansible_renders():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"<!-- readme-example:start -->\n```python\n(.*?)```\n<!-- readme-example:end -->",
                      readme, re.S)
    assert block, "the example block is missing from the README"
    result = subprocess.run([sys.executable, "-c", block.group(1)], cwd=ROOT,
                            capture_output=True, text=True, check=True, timeout=60)
    golden = ROOT / "tests/golden/wsgi-gunicorn/2cpu-2g/etc/systemd/system/mysite-gunicorn.socket"
    assert result.stdout == golden.read_text()
