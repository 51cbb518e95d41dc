"""Every SIMD level the library can run, each forced with VECTOR_OPS_SIMD in its own process."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import python_env

CHECK_SCRIPT = Path(__file__).with_name("simd_check.py")
LEVELS = ["sse2", "avx2", "avx512bw"]  # best last
CAPS = {"sse2": "sse2", "avx2": "avx2", "avx512": "avx512bw"}


def run_check(simd: str | None) -> dict:
    result = subprocess.run(
        [sys.executable, str(CHECK_SCRIPT)],
        env=python_env(VECTOR_OPS_SIMD=simd),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def best_level() -> str:
    return run_check(None)["simd_level"]


@pytest.mark.parametrize("cap", sorted(CAPS))
def test_level_matches_the_reference(cap, best_level):
    report = run_check(cap)
    assert report["checked"] > 100
    if best_level in LEVELS:
        expected = LEVELS[min(LEVELS.index(CAPS[cap]), LEVELS.index(best_level))]
    else:  # not x86: one portable level whatever the cap
        expected = best_level
    assert report["simd_level"] == expected
