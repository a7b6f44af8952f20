#!/usr/bin/env python3
"""Runs a command beside a private PostgreSQL cluster (docs/sync-operations.md, "Testing").

    with_postgres.py -- COMMAND [ARGS...]

Creates a cluster with initdb in a new temporary directory, starts it with pg_ctl listening
only on a Unix socket in that directory (no TCP port), runs COMMAND with ENTIDB_TEST_PG set to
its connection string, then stops the cluster (immediate shutdown) and removes the directory.
PostgreSQL refuses to run as root: as root the cluster runs as the unprivileged user `postgres`
(the Debian package creates it) through runuser, on a directory that user owns.

Exit status: COMMAND's. Without PostgreSQL's server programs (Debian: postgresql,
scripts/setup.sh installs it) it fails with a message saying so: a run without PostgreSQL never
passes silently. The cluster trades durability for speed (fsync off): it is for tests only.
Everything is bounded: starting waits at most 60 s, COMMAND at most 280 s.
"""

import glob
import os
import shutil
import subprocess
import sys
import tempfile


def server_bin():
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(d, "initdb"), os.X_OK) and os.access(os.path.join(d, "pg_ctl"), os.X_OK):
            return d
    return None


def as_owner(argv, owner):
    """argv run as `owner` (None: as ourselves)."""
    return argv if owner is None else ["runuser", "-u", owner, "--"] + argv


def main():
    if len(sys.argv) < 3 or sys.argv[1] != "--":
        print("usage: with_postgres.py -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    command = sys.argv[2:]
    bindir = server_bin()
    if bindir is None:
        print("with_postgres: PostgreSQL's server (initdb, pg_ctl) is not installed: install Debian's postgresql "
              "(scripts/setup.sh does); the PostgreSQL tests cannot run", file=sys.stderr)
        return 1
    owner = "postgres" if os.geteuid() == 0 else None
    root = tempfile.mkdtemp(prefix="entidb-pg-")
    os.chmod(root, 0o755)
    if owner:
        shutil.chown(root, owner, owner)
    data, sock, log = os.path.join(root, "data"), root, os.path.join(root, "server.log")
    started = False
    try:
        subprocess.run(as_owner([os.path.join(bindir, "initdb"), "-D", data, "-U", "entidb", "--auth=trust",
                                 "-E", "UTF8", "--no-sync", "--no-instructions"], owner),
                       check=True, stdout=subprocess.DEVNULL, timeout=60)
        options = "-k {} -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c max_connections=200".format(sock)
        subprocess.run(as_owner([os.path.join(bindir, "pg_ctl"), "-D", data, "-o", options, "-l", log, "-w", "-t", "60",
                                 "start"], owner), check=True, stdout=subprocess.DEVNULL, timeout=90)
        started = True
        env = dict(os.environ, ENTIDB_TEST_PG="host={} user=entidb dbname=postgres".format(sock))
        print("with_postgres: cluster at {} ({})".format(sock, os.path.basename(os.path.dirname(bindir))), flush=True)
        return subprocess.run(command, env=env, timeout=280).returncode
    except subprocess.CalledProcessError as e:
        print("with_postgres: {} failed (exit {})".format(e.cmd[0] if owner is None else e.cmd[3], e.returncode),
              file=sys.stderr)
        if os.path.exists(log):
            with open(log, encoding="utf-8", errors="replace") as f:
                sys.stderr.write(f.read()[-4000:])
        return 1
    finally:
        if started:
            subprocess.run(as_owner([os.path.join(bindir, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"], owner),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
