"""Print one closing line for a `meson test` run: 'N passed, N failed'.

meson's own summary is a table; CI and people skimming a log look for the
plain line. Reads the JSON lines meson writes to meson-logs/testlog.json.
"""

import json
import sys


def main(path: str) -> int:
    passed = failed = skipped = 0
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                result = json.loads(line).get("result", "")
                if result in ("OK", "EXPECTEDFAIL"):
                    passed += 1
                elif result == "SKIP":
                    skipped += 1
                else:
                    failed += 1
    except OSError as exc:
        print(f"no meson test log: {exc}", file=sys.stderr)
        return 1
    print(f"meson: {passed} passed, {failed} failed, {skipped} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
