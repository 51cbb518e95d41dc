"""Print one closing line for a `meson test` run: 'N passed, N failed'.

meson's own summary is a table; CI and people skimming a log look for the
plain line, and the names of the tests that failed. Reads the JSON lines
meson writes to meson-logs/testlog.json.
"""

import json
import sys


def main(path: str) -> int:
    passed = skipped = 0
    failed: list[str] = []
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                entry = json.loads(line)
                result = entry.get("result", "")
                if result in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif result == "SKIP":
                    skipped += 1
                else:
                    failed.append(f"{entry.get('name', '?')} ({result})")
    except OSError as exc:
        print(f"no meson test log: {exc}", file=sys.stderr)
        return 1
    print(f"meson: {passed} passed, {len(failed)} failed, {skipped} skipped")
    if failed:
        print("failed: " + ", ".join(failed))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
