import importlib.util
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[2]


def load(relative_path, name):
    """Import a module of the project by path (filter plugins and test tools are not packages)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / relative_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
