"""Benchmark: ``tenantctl migrate status`` and a no-op ``migrate up`` over many embedded tenants.

Provisions N tenants (through the same service as ``createTenant``) in a
fresh embedded directory (a local SecantusDB server with synced commits, as
``make serve`` runs it), then times the two commands as an operator runs
them: separate ``tenantctl`` processes on ``APP_EMBEDDED_DIR``, joining the
server that this script keeps running.

    python bench/fleet_migrations.py                  # 1,000 tenants
    python bench/fleet_migrations.py --tenants 200 --repeat 3

Prints seconds per command (best and median of ``--repeat`` runs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def provision(url: str, count: int) -> None:
    from argon2 import PasswordHasher, profiles

    from migrations.runtime import build_runtime
    from tenancy import lifecycle, passwords
    from tenancy.settings import Settings

    # Provisioning speed is not what is measured: hash owner passwords cheaply.
    passwords._hasher = PasswordHasher.from_parameters(profiles.CHEAPEST)
    runtime = build_runtime(Settings(_env_file=None, mongodb_url=url, seed_demo=False))
    await runtime.start()
    started = time.perf_counter()
    for n in range(count):
        await lifecycle.provision_tenant(
            runtime,
            lifecycle.ProvisionRequest(
                slug=f"bench-{n:05d}",
                name=f"Bench {n}",
                owner_email=f"owner{n}@bench.example",
                owner_name="Owner",
                owner_password="bench-password",
            ),
            actor="bench",
        )
        if (n + 1) % 100 == 0:
            print(f"  provisioned {n + 1}/{count} ({time.perf_counter() - started:.0f} s)")
    await runtime.close()


def timed(directory: Path, *args: str) -> float:
    env = {**os.environ, "APP_EMBEDDED_DIR": str(directory), "APP_MONGODB_URL": ""}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "scripts.cli", *args, "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"tenantctl {' '.join(args)} failed: {result.stdout}{result.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from tenancy.local_server import LocalServer

    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        with LocalServer(directory) as url:  # kept running; the commands join it
            print(f"provisioning {args.tenants} tenants in {directory} ...")
            asyncio.run(provision(url, args.tenants))
            for command in (("migrate", "status"), ("migrate", "up")):
                runs = [timed(directory, *command) for _ in range(args.repeat)]
                print(
                    f"tenantctl {' '.join(command):<15} over {args.tenants} tenants: "
                    f"best {min(runs):.2f} s, median {statistics.median(runs):.2f} s"
                )


if __name__ == "__main__":
    main()
