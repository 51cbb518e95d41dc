"""Where the library is looked for, in which order, and never from the current directory by accident."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

import vector_ops_ffi as vo
from conftest import python_env, run_python
from vector_ops_ffi import _ffi, _loader
from vector_ops_ffi._ffi import ffi

REPORT = """
import os
try:
    import vector_ops_ffi
    info = vector_ops_ffi.info()
    print("loaded", info["found_by"], info["library"])
    assert vector_ops_ffi.cosine_similarity([1.0, 0.0], [1.0, 1.0]) > 0.7
except OSError as exc:
    print("oserror", exc)
maps = open("/proc/self/maps").read()
print("mapped_from_cwd", any(
    line.split()[-1].startswith(os.getcwd() + "/") for line in maps.splitlines() if "libvector_ops" in line
))
"""


def package_copy(root: Path, *, bundle_library: Path | None = None) -> Path:
    """Lay out site-packages under ``root`` like an installed wheel: package, header, maybe the library."""
    package_dir = root / "vector_ops_ffi"
    package_dir.mkdir(parents=True)
    source = Path(vo.__file__).parent
    for path in [*source.glob("*.py"), source / "py.typed"]:
        shutil.copy(path, package_dir)
    shutil.copy(_ffi.HEADER_PATH, package_dir / _ffi.HEADER_NAME)
    shutil.copy(_ffi.VERSION_HEADER_PATH, package_dir / _ffi.VERSION_HEADER_NAME)
    if bundle_library is not None:
        libs = root / ".vector_ops_ffi.mesonpy.libs"
        libs.mkdir()
        shutil.copy(bundle_library, libs / f"libvector_ops.so.{vo.__version__}")
    return root


def clean_env(site: Path, **changes: str | None) -> dict[str, str]:
    settings = {
        "PYTHONPATH": str(site),
        "VECTOR_OPS_LIBRARY": None,
        "LD_LIBRARY_PATH": None,
        "PYTHONSAFEPATH": "1",
    }
    return python_env(**{**settings, **changes})


def parse_report(stdout: str) -> tuple[str, str, bool]:
    lines = stdout.strip().splitlines()
    first = lines[0]
    mapped = lines[-1] == "mapped_from_cwd True"
    return first.split(" ", 1)[0], first, mapped


def fake_library(tmp_path: Path, body: str) -> Path:
    compiler = shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        pytest.skip("no C compiler to build a fake library")
    source = tmp_path / "fake.c"
    source.write_text(body)
    output = tmp_path / "libfake.so"
    subprocess.run([compiler, "-shared", "-fPIC", "-o", str(output), str(source)], check=True)
    return output


# ---- the explicit path -----------------------------------------------------------------


def test_explicit_path_wins_and_is_reported(monkeypatch, loaded_library_path, tmp_path):
    copy = tmp_path / "custom-name.so"
    shutil.copy(loaded_library_path, copy)
    monkeypatch.setenv("VECTOR_OPS_LIBRARY", str(copy))
    loaded = _loader.load(ffi, _ffi.FUNCTION_NAMES)
    assert (loaded.path, loaded.found_by) == (str(copy), "VECTOR_OPS_LIBRARY")
    assert loaded.lib.vo_abi_version() == 0


def test_explicit_relative_path_is_made_absolute(monkeypatch, loaded_library_path, tmp_path):
    shutil.copy(loaded_library_path, tmp_path / "libmine.so")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VECTOR_OPS_LIBRARY", "libmine.so")
    assert _loader.load(ffi, _ffi.FUNCTION_NAMES).path == str(tmp_path / "libmine.so")


def test_explicit_path_that_fails_is_an_error_not_a_fallback(monkeypatch, tmp_path):
    missing = tmp_path / "nowhere" / "libvector_ops.so.0"
    monkeypatch.setenv("VECTOR_OPS_LIBRARY", str(missing))
    with pytest.raises(OSError, match="Tried") as raised:
        _loader.load(ffi, _ffi.FUNCTION_NAMES)
    message = str(raised.value)
    assert f"VECTOR_OPS_LIBRARY={missing}" in message
    assert "bundled" not in message
    assert "soname" not in message


def test_a_library_with_another_abi_is_refused(monkeypatch, tmp_path):
    fake = fake_library(tmp_path, "int vo_abi_version(void) { return 1; }\n")
    monkeypatch.setenv("VECTOR_OPS_LIBRARY", str(fake))
    with pytest.raises(OSError, match=f"ABI version 1, this package needs {_ffi.ABI_VERSION}\n"):
        _loader.load(ffi, _ffi.FUNCTION_NAMES)


def test_a_library_missing_functions_is_refused(monkeypatch, tmp_path):
    fake = fake_library(tmp_path, "int vo_abi_version(void) { return 0; }\n")
    monkeypatch.setenv("VECTOR_OPS_LIBRARY", str(fake))
    with pytest.raises(OSError, match=r"missing functions: .*vo_normalize_f32"):
        _loader.load(ffi, _ffi.FUNCTION_NAMES)


def test_a_library_that_is_not_vector_ops_is_refused(monkeypatch, tmp_path):
    fake = fake_library(tmp_path, "int something_else(void) { return 0; }\n")
    monkeypatch.setenv("VECTOR_OPS_LIBRARY", str(fake))
    with pytest.raises(OSError, match="not a vector_ops library"):
        _loader.load(ffi, _ffi.FUNCTION_NAMES)


def test_import_fails_with_one_oserror(tmp_path):
    result = run_python(
        "import vector_ops_ffi",
        env=python_env(VECTOR_OPS_LIBRARY=str(tmp_path / "missing.so")),
        cwd=tmp_path,
    )
    assert result.returncode != 0
    assert "OSError: vector_ops_ffi could not load libvector_ops.so.0" in result.stderr
    assert "missing.so" in result.stderr


# ---- bundled copy, soname, find_library ------------------------------------------------


def test_bundled_copy_of_an_installed_wheel(tmp_path, loaded_library_path):
    site = package_copy(tmp_path / "site", bundle_library=loaded_library_path)
    result = run_python(REPORT, env=clean_env(site), cwd=tmp_path)
    kind, line, _ = parse_report(result.stdout)
    assert kind == "loaded", result.stdout + result.stderr
    bundled = site / ".vector_ops_ffi.mesonpy.libs" / f"libvector_ops.so.{vo.__version__}"
    assert line == f"loaded bundled {bundled}"


def test_soname_through_the_dynamic_linker(tmp_path, loaded_library_path):
    site = package_copy(tmp_path / "site")
    libdir = tmp_path / "lib"
    libdir.mkdir()
    shutil.copy(loaded_library_path, libdir / "libvector_ops.so.0")
    result = run_python(REPORT, env=clean_env(site, LD_LIBRARY_PATH=str(libdir)), cwd=tmp_path)
    _, line, _ = parse_report(result.stdout)
    assert line == f"loaded soname {libdir / 'libvector_ops.so.0'}", result.stdout + result.stderr


def test_nothing_found_lists_every_place_tried(tmp_path):
    site = package_copy(tmp_path / "site")
    result = run_python(REPORT, env=clean_env(site), cwd=tmp_path)
    kind, line, _ = parse_report(result.stdout)
    if kind == "loaded":  # this machine has the library installed system-wide
        assert line.split()[1] in ("soname", "find_library")
    else:
        for step in (
            "bundled copy in",
            "soname libvector_ops.so.0",
            "ctypes.util.find_library('vector_ops')",
        ):
            assert step in result.stdout
        assert "VECTOR_OPS_LIBRARY" in result.stdout  # the hint


@pytest.mark.parametrize("ld_library_path", [None, ".", "::", "/nonexistent:", "lib-relative"])
def test_never_loads_from_the_current_directory(tmp_path, loaded_library_path, ld_library_path):
    site = package_copy(tmp_path / "site")
    workdir = tmp_path / "work"
    (workdir / "lib-relative").mkdir(parents=True)
    for name in ("libvector_ops.so.0", "libvector_ops.so", "lib-relative/libvector_ops.so.0"):
        shutil.copy(loaded_library_path, workdir / name)
    result = run_python(REPORT, env=clean_env(site, LD_LIBRARY_PATH=ld_library_path), cwd=workdir)
    kind, _, mapped_from_cwd = parse_report(result.stdout)
    assert not mapped_from_cwd, result.stdout
    if ld_library_path is not None and kind == "oserror":
        assert "from the current directory" in result.stdout


def test_relative_ld_library_path_entries_are_detected(monkeypatch, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "libx.so.0").write_bytes(b"")
    (tmp_path / "liby.so.0").write_bytes(b"")
    monkeypatch.chdir(tmp_path)
    cases = {
        "": None,
        "/usr/lib": None,
        "sub": str(tmp_path / "sub" / "libx.so.0"),
        "$ORIGIN/sub": None,
    }
    for value, expected in cases.items():
        monkeypatch.setenv("LD_LIBRARY_PATH", value)
        assert _loader._cwd_relative_copy("libx.so.0") == expected, value
    for value in ("/usr/lib:", ":/usr/lib", "/usr/lib::/lib", ".", "/a;.", "./"):
        monkeypatch.setenv("LD_LIBRARY_PATH", value)
        assert _loader._cwd_relative_copy("liby.so.0") == str(tmp_path / "liby.so.0"), value
    monkeypatch.delenv("LD_LIBRARY_PATH")
    assert _loader._cwd_relative_copy("liby.so.0") is None
    hwcaps = tmp_path / "sub" / "glibc-hwcaps" / "x86-64-v3"
    hwcaps.mkdir(parents=True)
    (hwcaps / "libz.so.0").write_bytes(b"")
    monkeypatch.setenv("LD_LIBRARY_PATH", "/usr/lib:sub")
    assert _loader._cwd_relative_copy("libz.so.0") == str(hwcaps / "libz.so.0")


def test_info_reports_the_loaded_file(loaded_library_path):
    info = vo.info()
    assert os.path.isabs(info["library"])
    assert Path(info["library"]).exists()
    if "VECTOR_OPS_LIBRARY" in os.environ:
        assert info["found_by"] == "VECTOR_OPS_LIBRARY"
        assert info["library"] == os.path.abspath(os.environ["VECTOR_OPS_LIBRARY"])
    assert info["simd_level"] == vo.simd_level()
    assert info["num_threads"] == vo.get_num_threads()
