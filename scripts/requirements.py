"""Print the Python packages the .venv needs, one per line, from pyproject.toml.

pyproject.toml is the one list: ``build`` is [build-system].requires,
``runtime`` is [project].dependencies, any other name is an extra of
[project.optional-dependencies]. Usage: requirements.py build runtime test ...
"""

import re
import sys
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def load() -> dict:
    text = PYPROJECT.read_text(encoding="utf-8")
    try:
        import tomllib
    except ModuleNotFoundError:  # Python < 3.11: every list used here is flat strings
        return fallback(text)
    data = tomllib.loads(text)
    groups = dict(data["project"].get("optional-dependencies", {}))
    groups["build"] = data["build-system"]["requires"]
    groups["runtime"] = data["project"].get("dependencies", [])
    return groups


def fallback(text: str) -> dict:
    groups: dict = {}
    section = ""
    pattern = r"^\[([^\]]+)\]|^([A-Za-z0-9_-]+)\s*=\s*\[(.*?)\][ \t]*(?:#[^\n]*)?$"
    for match in re.finditer(pattern, text, re.M | re.S):
        if match.group(1):
            section = match.group(1)
            continue
        key, items = match.group(2), re.findall(r'"([^"]+)"', match.group(3))
        if section == "build-system" and key == "requires":
            groups["build"] = items
        elif section == "project" and key == "dependencies":
            groups["runtime"] = items
        elif section == "project.optional-dependencies":
            groups[key] = items
    return groups


def main(names: list) -> int:
    groups = load()
    unknown = [n for n in names if n not in groups]
    if unknown:
        print(f"requirements.py: no group {', '.join(unknown)} in {PYPROJECT}", file=sys.stderr)
        return 1
    seen = []
    for name in names:
        seen += [r for r in groups[name] if r not in seen]
    print("\n".join(seen))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
