"""``tenantctl platform ...``: platform users (super-admins)."""

from __future__ import annotations

import sys

import typer

from scripts.commands.common import ACTOR, JsonOption, run
from scripts.output import print_records
from tenancy import lifecycle
from tenancy.models import User
from tenancy.reports import Table
from tenancy.runtime import Runtime

platform_app = typer.Typer(help="Platform users (super-admins).", no_args_is_help=True)


@platform_app.command("create-admin")
def platform_create_admin(
    email: str = typer.Argument(..., help="Login email of the new super-admin."),
    name: str = typer.Option(..., help="Display name."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input (scripts)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create a platform super-admin, e.g. the first one of a production deployment
    (which never gets demo data). The password is prompted for, or read from stdin.

    Example: tenantctl platform create-admin ops@example.com --name "Ops Team"
    """
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

    async def action(runtime: Runtime) -> User:
        return await lifecycle.create_super_admin(
            runtime, email=email, name=name, password=password, actor=ACTOR
        )

    user = run(action, as_json)
    data = {"id": str(user.id), "email": user.email, "role": str(user.role)}
    table = Table("super-admin created", list(data), [list(data.values())])
    print_records(table, data, as_json)
