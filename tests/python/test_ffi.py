"""The cdef is the header: no drift between include/vector_ops.h, the cdef and the loaded library."""

from __future__ import annotations

import doctest
import importlib
import inspect
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import vector_ops_ffi as vo
from conftest import IN_SOURCE_TREE, REPO, SOURCE_HEADER, python_env, run_python
from vector_ops_ffi import _ffi, _loader
from vector_ops_ffi._ffi import ffi
from vector_ops_ffi._library import lib as _lib


def header_text() -> str:
    return _ffi.HEADER_PATH.read_text(encoding="utf-8")


def test_cdef_is_the_marked_region_without_the_export_macro():
    text = header_text()
    begin = text.index("/* vo-cdef-begin */") + len("/* vo-cdef-begin */")
    end = text.index("/* vo-cdef-end */")
    region = text[begin:end]
    assert region.replace("VO_API ", "") == _ffi.CDEF
    assert "VO_API" not in _ffi.CDEF
    assert not [line for line in region.splitlines() if line.lstrip().startswith("#")], (
        "preprocessor line in region"
    )


def test_every_exported_declaration_is_inside_the_region():
    text = header_text()
    outside = text[: text.index("/* vo-cdef-begin */")] + text[text.index("/* vo-cdef-end */") :]
    declarations = [line for line in outside.splitlines() if re.match(r"\s*VO_API\b", line)]
    assert declarations == []


def test_every_declared_function_is_reachable_on_the_library():
    declared = set(re.findall(r"^VO_API\s+[^;]*?\b(vo_\w+)\s*\(", header_text(), re.MULTILINE))
    assert declared == set(_ffi.FUNCTION_NAMES)
    assert {"vo_normalize_f32", "vo_cosine_similarity_rows_f64", "vo_abi_version"} <= declared
    for name in declared:
        function = getattr(_lib, name)
        assert ffi.typeof(function).kind == "function"
    assert {name for name in dir(_lib) if name.startswith("vo_")} == declared


def test_enum_values_match_the_header():
    values = dict(re.findall(r"\b(VO_[A-Z0-9_]+)\s*=\s*(\d+)", header_text()))
    assert "VO_ERR_NONFINITE" in values
    assert "VO_NONFINITE_RAISE" in values
    for name, value in values.items():
        assert getattr(_lib, name) == int(value), name


def test_status_strings_name_every_status():
    statuses = [int(v) for v in re.findall(r"\bVO_(?:OK|ERR_[A-Z_]+)\s*=\s*(\d+)", header_text())]
    messages = {ffi.string(_lib.vo_status_string(s)).decode() for s in statuses}
    assert len(messages) == len(statuses)
    assert "unknown status" not in messages


def test_versions_and_abi_agree():
    text = _ffi.VERSION_HEADER_TEXT
    assert vo.__version__ == _ffi.header_define(text, "VO_VERSION_STRING") == _ffi.HEADER_VERSION
    assert int(_ffi.header_define(text, "VO_ABI_VERSION")) == _ffi.ABI_VERSION == _loader.EXPECTED_ABI_VERSION
    assert f"libvector_ops.so.{_loader.EXPECTED_ABI_VERSION}" == _loader.SONAME
    info = vo.info()
    assert info["abi_version"] == _loader.EXPECTED_ABI_VERSION
    assert info["version"] == vo.__version__
    assert info["package_version"] == vo.__version__
    major, minor, patch = (int(p) for p in vo.__version__.split("."))
    assert _lib.vo_version_number() == major * 10000 + minor * 100 + patch
    assert int(_ffi.header_define(text, "VO_VERSION_NUMBER")) == _lib.vo_version_number()


def test_headers_are_read_from_the_package_directory_only():
    package_dir = Path(vo.__file__).resolve().parent
    assert package_dir / "vector_ops.h" == _ffi.HEADER_PATH
    assert package_dir / "vector_ops_version.h" == _ffi.VERSION_HEADER_PATH
    loader_source = Path(_loader.__file__).read_text(encoding="utf-8")
    assert not re.search(r"EXPECTED_ABI_VERSION\s*=\s*\d", loader_source), "the ABI is read from the header"


def test_a_package_without_its_headers_says_what_to_do(tmp_path):
    copy = tmp_path / "vector_ops_ffi"
    copy.mkdir()
    for path in Path(vo.__file__).parent.glob("*.py"):
        shutil.copy(path, copy)
    result = run_python("import vector_ops_ffi", env=python_env(PYTHONPATH=str(tmp_path)), cwd=tmp_path)
    assert result.returncode != 0
    assert "ImportError: vector_ops_ffi: vector_ops.h not found in" in result.stderr
    assert "PYTHONPATH=<build>/python" in result.stderr


@pytest.mark.skipif(not IN_SOURCE_TREE, reason="needs the source tree")
def test_the_package_copies_of_the_headers_are_this_build_s():
    assert _ffi.HEADER_PATH.read_text(encoding="utf-8") == SOURCE_HEADER.read_text(encoding="utf-8")
    assert (REPO / "VERSION").read_text(encoding="utf-8").strip() == vo.__version__
    abi = re.search(r"^abi_version\s*=\s*(\d+)", (REPO / "meson.build").read_text(encoding="utf-8"), re.M)
    assert int(abi.group(1)) == _ffi.ABI_VERSION


def test_library_does_not_link_python(loaded_library_path):
    """No libpython among the libraries and no Py* symbol left to resolve: one .so for every Python.

    nm comes with binutils, which a machine without a toolchain (the chroots of
    `make test-wheel-compat`) lacks; ldd comes with glibc, and ``ldd -r`` names
    every symbol that stays undefined outside a Python process. Each check runs
    when its tool is there.
    """
    nm, ldd = shutil.which("nm"), shutil.which("ldd")
    if nm is None and ldd is None:
        pytest.skip("neither nm nor ldd is installed")
    if nm is not None:
        symbols = subprocess.run(
            [nm, "-D", str(loaded_library_path)], capture_output=True, text=True, check=True
        )
        names = [line.split()[-1] for line in symbols.stdout.splitlines() if line.strip()]
        assert any(n.startswith("vo_") for n in names)
        assert not [n for n in names if n.startswith(("Py", "_Py"))]
    if ldd is not None:
        linked = subprocess.run([ldd, "-r", str(loaded_library_path)], capture_output=True, text=True)
        report = linked.stdout + linked.stderr
        assert "libc.so.6" in report, report  # ldd did read the library
        assert "libpython" not in report, report
        assert not re.findall(r"undefined symbol: _?Py", report), report


PACKAGE_MODULES = [
    "",
    "._errors",
    "._convert",
    "._rows",
    "._search",
    "._threadpool",
    "._info",
    "._lowp",
    "._store",
]


@pytest.mark.parametrize("module", PACKAGE_MODULES)
def test_docstring_examples(module):
    """Exact output: no ELLIPSIS, so an example whose output drifts fails."""
    target = importlib.import_module("vector_ops_ffi" + module)
    failures, attempted = doctest.testmod(target, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert attempted > 0 or module == "._convert"
    assert failures == 0


def test_public_api_is_documented_and_typed():
    for name in vo.__all__:
        obj = getattr(vo, name)
        if inspect.isfunction(obj):
            assert ">>>" in (obj.__doc__ or ""), f"{name} has no example"
            assert obj.__annotations__, f"{name} has no type hints"
    assert (Path(vo.__file__).parent / "py.typed").is_file()
