"""Every SIMD level the library was built with, each forced with VECTOR_OPS_SIMD in its own process.

The levels come from the library (``vo.simd_levels()``), not from a list in
this file. A level this CPU cannot run is skipped, saying so: it is never
re-tested under another level's name.
"""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import vector_ops_ffi as vo
from conftest import python_env, run_python

CHECK_SCRIPT = Path(__file__).with_name("simd_check.py")
BUILT = vo.simd_levels()
RUNNABLE = vo.simd_levels(runnable=True)


def run_check(simd: str | None) -> dict:
    result = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", str(CHECK_SCRIPT)],
        env=python_env(VECTOR_OPS_SIMD=simd),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_the_lists_agree():
    assert BUILT, "the library reports no level"
    assert RUNNABLE, "the library reports no runnable level"
    assert set(RUNNABLE) <= set(BUILT)
    assert list(RUNNABLE) == [level for level in BUILT if level in RUNNABLE], "best first, in both"
    assert vo.simd_level() in RUNNABLE
    assert vo.info()["simd_levels_built"] == BUILT
    assert vo.info()["simd_levels_runnable"] == RUNNABLE


@pytest.mark.parametrize("level", BUILT)
def test_level_matches_the_reference(level):
    if level not in RUNNABLE:
        pytest.skip(f"{level}: built, but this CPU cannot run it (runnable: {', '.join(RUNNABLE)})")
    report = run_check(level)
    assert report["checked"] > 100
    assert report["simd_level"] == level
    assert report["simd_cap"] == level


@pytest.mark.parametrize("spelling", ["upper", "mixed"])
def test_the_cap_is_honoured_in_any_case(spelling):
    level = RUNNABLE[-1]  # the baseline: every CPU of this build runs it
    value = level.upper() if spelling == "upper" else level[0].upper() + level[1:]
    if value == level:
        pytest.skip(f"{level} has no letters to change")
    result = run_python(
        "import json, vector_ops_ffi as vo; print(json.dumps([vo.simd_level(), vo.info()['simd_cap']]))",
        env=python_env(VECTOR_OPS_SIMD=value),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [level, level]
    assert "RuntimeWarning" not in result.stderr


def test_avx512_alias_caps_at_avx512bw():
    if "avx512bw" not in BUILT:
        pytest.skip(f"this build has no avx512bw level ({', '.join(BUILT)})")
    result = run_python(
        "import json, vector_ops_ffi as vo; print(json.dumps([vo.simd_level(), vo.info()['simd_cap']]))",
        env=python_env(VECTOR_OPS_SIMD="AVX512"),
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [
        RUNNABLE[0] if "avx512bw" not in RUNNABLE else "avx512bw",
        "avx512bw",
    ]


def test_an_unknown_value_warns_once_and_caps_nothing():
    code = (
        "import json, warnings\n"
        "with warnings.catch_warnings(record=True) as caught:\n"
        "    warnings.simplefilter('always')\n"
        "    import vector_ops_ffi as vo\n"
        "    import importlib; importlib.import_module('vector_ops_ffi')\n"
        "print(json.dumps([[str(w.message) for w in caught if w.category is RuntimeWarning],"
        " vo.simd_level(), vo.info()['simd_cap']]))"
    )
    result = run_python(code, env=python_env(VECTOR_OPS_SIMD="sse9"))
    assert result.returncode == 0, result.stderr
    messages, level, cap = json.loads(result.stdout)
    assert len(messages) == 1, messages
    assert "VECTOR_OPS_SIMD='sse9'" in messages[0]
    assert (level, cap) == (RUNNABLE[0], "unknown")


def test_no_warning_without_the_variable():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run_python(
            "import vector_ops_ffi as vo; print(vo.info()['simd_cap'] == '')",
            env=python_env(VECTOR_OPS_SIMD=None),
        )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
    assert "RuntimeWarning" not in result.stderr
