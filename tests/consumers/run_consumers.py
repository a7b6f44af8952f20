#!/usr/bin/env python3
"""Builds and runs the consumer projects of tests/consumers/ the way users' projects would:

  cmake-find        find_package(entidb 1.0) against `meson install` of this build (staged with
                    DESTDIR): entidb::entidb, and entidb::c (a C program's database round trip,
                    where the build has the C ABI); find_package(entidb 99.0) refused
  cmake-subdir      add_subdirectory of the source tree (the top-level CMakeLists.txt), no Meson
  meson-subproject  the source tree as a Meson subproject
  pkg-config        app.cpp compiled with `pkg-config --cflags --libs entidb` of the staged install

    run_consumers.py SOURCE_ROOT BUILD_DIR [NAME ...]

The compilers come from CC and CXX, and EXTRA_FLAGS (the build's sanitizer flags) goes to every
compile and link, so a sanitized C library links into a consumer built the same way; EXTRA_C_LIBS
ends a C program's link (clang's sanitized C++ runtime, which a C link leaves out, and
libstdc++: what a sanitized libentidb_c leaves to the program; an unsanitized one needs neither). Every
consumer must print what it printed here; the exit code is the number of consumers that failed.
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT = 300


def run(argv, cwd=None, env=None):
    r = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    if r.returncode != 0:
        raise RuntimeError(f"{shlex.join(map(str, argv))}: exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    return r.stdout


def project(tmp, name):
    """A copy of the consumer project `name` with the shared sources beside its files."""
    dest = tmp / name
    if (HERE / name).is_dir():
        shutil.copytree(HERE / name, dest)
    else:
        dest.mkdir()
    for f in ("app.cpp", "app_c.c"):
        shutil.copy(HERE / f, dest / f)
    return dest


class Consumers:
    def __init__(self, source, build, tmp):
        self.source, self.build, self.tmp = source, build, tmp
        self.extra = os.environ.get("EXTRA_FLAGS", "")
        self.cc, self.cxx = os.environ.get("CC", "cc"), os.environ.get("CXX", "c++")
        self.version = None
        self.stage = None

    def expect_app(self, out, database):
        lines = out.splitlines()
        want = (["database ok"] if database else []) + [line for line in lines if line.startswith("entidb ")][:1]
        if lines != want or not lines[-1].startswith(f"entidb {self.library_version()} hash "):
            raise RuntimeError(f"the program printed {out!r}")

    def library_version(self):
        if self.version is None:
            text = (self.source / "include" / "entidb" / "version.hpp").read_text()
            self.version = text.split('library_version = "', 1)[1].split('"', 1)[0]
        return self.version

    def installed(self):
        """`meson install` of the build, staged under tmp/stage: (the prefix inside it, libdir)."""
        if self.stage is None:
            stage = self.tmp / "stage"
            run(["meson", "install", "-C", str(self.build), "--no-rebuild", "--quiet", "--destdir", str(stage)])
            options = {o["name"]: o["value"] for o in json.loads(run(["meson", "introspect", str(self.build), "--buildoptions"]))}
            self.stage = (stage / options["prefix"].lstrip("/"), options["libdir"])
        return self.stage

    def cmake(self, proj, *defines):
        build = proj / "build"
        run(["cmake", "-S", str(proj), "-B", str(build), "-G", "Ninja", f"-DCMAKE_C_COMPILER={self.cc}",
             f"-DCMAKE_CXX_COMPILER={self.cxx}", f"-DCMAKE_C_FLAGS={self.extra}", f"-DCMAKE_CXX_FLAGS={self.extra}",
             f"-DCMAKE_EXE_LINKER_FLAGS={self.extra}",
             f"-DCMAKE_C_STANDARD_LIBRARIES={os.environ.get('EXTRA_C_LIBS', '')}", *defines])
        run(["cmake", "--build", str(build)])
        return build

    def cmake_find(self):
        prefix, libdir = self.installed()
        proj = project(self.tmp, "cmake-find")
        build = self.cmake(proj, f"-DCMAKE_PREFIX_PATH={prefix}")
        self.expect_app(run([str(build / "app")]), database=False)
        has_c = (prefix / libdir / "libentidb_c.so.1").exists()
        if has_c != (build / "app_c").exists():
            raise RuntimeError(f"the installation {'has' if has_c else 'lacks'} the C ABI, entidb::c disagrees")
        if has_c:
            env = dict(os.environ, LD_LIBRARY_PATH=str(prefix / libdir))
            out = run([str(build / "app_c"), str(self.tmp / "c.db")], env=env)
            if "round trip ok" not in out or f"entidb {self.library_version()} " not in out:
                raise RuntimeError(f"the C program printed {out!r}")
        # A request for another major version, or a newer one, is refused.
        (proj / "CMakeLists.txt").write_text((proj / "CMakeLists.txt").read_text().replace(
            "find_package(entidb 1.0 REQUIRED)", "find_package(entidb 99.0 REQUIRED)"))
        r = subprocess.run(["cmake", "-S", str(proj), "-B", str(proj / "build99"), f"-DCMAKE_PREFIX_PATH={prefix}"],
                           capture_output=True, text=True, timeout=TIMEOUT)
        if r.returncode == 0 or "compatible with requested version" not in " ".join(r.stderr.split()):
            raise RuntimeError(f"find_package(entidb 99.0) was not refused:\n{r.stderr[-2000:]}")

    def cmake_subdir(self):
        proj = project(self.tmp, "cmake-subdir")
        build = self.cmake(proj, f"-DENTIDB_SOURCE_DIR={self.source}")
        self.expect_app(run([str(build / "app")]), database=False)

    def meson_subproject(self):
        proj = project(self.tmp, "meson-subproject")
        (proj / "subprojects").mkdir()
        (proj / "subprojects" / "entidb").symlink_to(self.source)
        env = dict(os.environ, CC=self.cc, CXX=self.cxx)
        args = [f"-Dcpp_args={self.extra}", f"-Dcpp_link_args={self.extra}"] if self.extra else []
        run(["meson", "setup", str(proj / "build"), str(proj), *args], env=env)
        run(["ninja", "-C", str(proj / "build")])
        self.expect_app(run([str(proj / "build" / "app")]), database=False)

    def pkg_config(self):
        prefix, libdir = self.installed()
        proj = project(self.tmp, "pkg-config")
        env = dict(os.environ, PKG_CONFIG_PATH=str(prefix / libdir / "pkgconfig"))
        flags = run(["pkg-config", "--cflags", "--libs", "entidb"], env=env).split()
        if (prefix / "include").resolve() not in [Path(f[2:]).resolve() for f in flags if f.startswith("-I")]:
            raise RuntimeError(f"pkg-config names {flags}, not the staged headers")
        run([self.cxx, *shlex.split(self.extra), "app.cpp", "-o", "app", *flags], cwd=proj)
        self.expect_app(run([str(proj / "app")]), database=False)


def main(argv):
    source, build, names = Path(argv[1]).resolve(), Path(argv[2]).resolve(), argv[3:]
    everything = ["cmake-find", "cmake-subdir", "meson-subproject", "pkg-config"]
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        consumers = Consumers(source, build, Path(tmp))
        for name in names or everything:
            try:
                getattr(consumers, name.replace("-", "_"))()
                print(f"ok {name}")
            except Exception as e:  # one line per consumer, the reason after it
                failed += 1
                print(f"FAILED {name}: {e}")
    return failed


if __name__ == "__main__":
    sys.exit(main(sys.argv))
