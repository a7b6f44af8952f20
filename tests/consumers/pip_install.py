#!/usr/bin/env python3
"""`pip install bindings/python` into a fresh virtual environment, as a user does, then the
binding's own tests against the installed package:

    pip_install.py SOURCE_ROOT
    pip_install.py --plan SOURCE_ROOT

--plan only configures bindings/python with Meson, as meson-python does, and checks the install
plan: the modules, py.typed and libentidb_c all go into one `entidb` package directory (a few
seconds, nothing compiled: what the test run checks where the whole install costs too much).

The environment is made by the Python that Debian's python3-mesonpy serves (/usr/bin/python3,
else this one), with its system packages visible (meson-python, Meson): the install runs with
--no-index and --no-build-isolation, so nothing is downloaded. The package is built unoptimised
(-Csetup-args=-Dbuildtype=plain: the tests check behaviour, and the compile is the cost). Then,
from a directory outside the checkout and with neither PYTHONPATH nor ENTIDB_C_LIBRARY set,
`import entidb` must load the package and the library inside the environment, the package must
carry its type marker (py.typed), and bindings/python/tests must pass. Exit code 0 only then.
"""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

TIMEOUT = 600


def run(argv, **kw):
    r = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=TIMEOUT, **kw)
    if r.returncode != 0:
        raise SystemExit(f"FAILED: {' '.join(map(str, argv))}: exit {r.returncode}\n{r.stdout[-4000:]}\n{r.stderr[-4000:]}")
    return r.stdout


def python_with_mesonpy():
    for candidate in ("/usr/bin/python3", sys.executable):
        if Path(candidate).exists() and subprocess.run([candidate, "-c", "import mesonpy"],
                                                       capture_output=True, timeout=60).returncode == 0:
            return candidate
    raise SystemExit("FAILED: no Python here imports mesonpy: install python3-mesonpy (scripts/setup.sh base)")


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "ENTIDB_C_LIBRARY", "PYTHONHOME")}
    env.update(extra)
    return env


def check_plan(source):
    """The install plan of bindings/python: every file of the package, and the library, in one
    `entidb` directory under the platform library path."""
    import json
    with tempfile.TemporaryDirectory() as tmp:
        build = Path(tmp) / "build"
        run(["meson", "setup", build, source / "bindings" / "python", "-Dbuildtype=plain"])
        plan = json.loads(run(["meson", "introspect", build, "--installed"]))
    dirs = {Path(dest).parent for dest in plan.values()}
    names = sorted(Path(dest).name for dest in plan.values())
    wanted = ["__init__.py", "_convert.py", "_native.py", "errors.py", "libentidb_c.so", "py.typed"]
    if len(dirs) != 1 or next(iter(dirs)).name != "entidb" or names != wanted:
        raise SystemExit(f"FAILED: the package would install {sorted(plan.values())}")
    print(f"ok: bindings/python installs {', '.join(names)} into {next(iter(dirs))}")
    return 0


def main(argv):
    if argv[1] == "--plan":
        return check_plan(Path(argv[2]).resolve())
    source = Path(argv[1]).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        venv = tmp / "venv"
        run([python_with_mesonpy(), "-m", "venv", "--system-site-packages", venv])
        python = venv / "bin" / "python"
        run([python, "-m", "pip", "install", "--no-index", "--no-build-isolation", "--quiet",
             "--config-settings=setup-args=-Dbuildtype=plain", f"--config-settings=builddir={tmp / 'build'}",
             source / "bindings" / "python"],
            cwd=tmp, env=clean_env())
        out = run([python, "-c", "import entidb, pathlib; p = pathlib.Path(entidb.__file__).parent; "
                   "print(p); print(entidb.library_version()); print((p / 'py.typed').exists()); "
                   "print(sorted(x.name for x in p.glob('libentidb_c.so*')))"], cwd=tmp, env=clean_env())
        where, version, typed, libs = out.splitlines()
        if not Path(where).resolve().is_relative_to(venv.resolve()):
            raise SystemExit(f"FAILED: entidb was imported from {where}, not from the environment")
        wanted = (source / "include" / "entidb" / "version.hpp").read_text().split('library_version = "')[1].split('"')[0]
        if version != wanted or typed != "True" or libs != "['libentidb_c.so']":
            raise SystemExit(f"FAILED: installed package: version {version} (want {wanted}), py.typed {typed}, "
                             f"libraries {libs}")
        # The binding's tests against the installed package (the sync tests start the tool when
        # ENTIDB_TOOL names one, as in the other configurations).
        out = subprocess.run([str(python), "-m", "unittest", "discover", "-s", str(source / "bindings" / "python" / "tests")],
                             capture_output=True, text=True, timeout=TIMEOUT, cwd=tmp, env=clean_env(PYTHONDONTWRITEBYTECODE="1"))
        print(out.stderr[-3000:])
        if out.returncode != 0:
            raise SystemExit("FAILED: the binding's tests against the installed package")
        print(f"ok: entidb {version} installed in a fresh environment, {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
