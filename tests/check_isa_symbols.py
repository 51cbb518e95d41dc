"""Fail when two per-ISA kernel archives define the same code symbol.

Each src/arch/<isa>.cpp is compiled with its own ISA flags. If an inline
function were emitted out of line in two of them (a weak symbol), the linker
would keep one copy for both, and the SSE2 path could end up running AVX-512
instructions: SIGILL on an older CPU. This test keeps that from creeping in.

Usage: check_isa_symbols.py NM ARCHIVE [ARCHIVE...]
"""

import itertools
import subprocess
import sys


def code_symbols(nm: str, archive: str) -> set[str]:
    out = subprocess.run([nm, "--defined-only", archive], check=True, capture_output=True, text=True).stdout
    symbols = set()
    for line in out.splitlines():
        parts = line.split()
        # "address type name": T/t text, W weak code, i/u GNU ifunc/unique.
        if len(parts) == 3 and parts[1] in ("T", "W", "i", "u"):
            symbols.add(parts[2])
    return symbols


def main(argv: list[str]) -> int:
    nm, archives = argv[1], argv[2:]
    if len(archives) < 2:
        print("fewer than two ISA archives: nothing to compare")
        return 0
    table = {a: code_symbols(nm, a) for a in archives}
    clashes = 0
    for a, b in itertools.combinations(archives, 2):
        for sym in sorted(table[a] & table[b]):
            print(f"{sym} is defined in both {a} and {b}")
            clashes += 1
    print(f"{len(archives)} ISA archives, {clashes} shared code symbols")
    return 1 if clashes else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
