"""``tenantctl``: the operator command line.

Every command works against the configured MongoDB (``APP_MONGODB_URL``) or,
when none is set, against the embedded data directory that ``make serve``
uses. Long commands show progress and end with a report table; ``--json``
prints the same report machine-readably. Exit code 0 means done, 1 failed
(the report says what was and was not done), 2 refused (a missing
confirmation). A failure prints one line, ``CODE: message`` (with ``--json`` a
``{"error": {"code", "message"}}`` object on stdout); ``tenantctl --debug ...``
adds the traceback.
"""

from __future__ import annotations

import typer

from scripts.commands import databases, legacy, worker
from scripts.commands.billing import billing_app
from scripts.commands.common import global_options
from scripts.commands.migrate import migrate_app
from scripts.commands.persisted_queries import persisted_queries_app
from scripts.commands.platform import platform_app
from scripts.commands.tenants import tenants_app

app = typer.Typer(
    help=__doc__,
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="markdown",
)


@app.callback()
def _global_options(
    debug: bool = typer.Option(
        False, "--debug", help="Show the traceback of a failure (for bug reports)."
    ),
) -> None:
    """Options before the command name apply to every command."""
    global_options["debug"] = debug


app.add_typer(tenants_app, name="tenants")
app.add_typer(platform_app, name="platform")
app.add_typer(migrate_app, name="migrate")
databases.register(app)
legacy.register(app)
worker.register(app)
app.add_typer(billing_app, name="billing")
app.add_typer(persisted_queries_app, name="persisted-queries")  # issue 12


def main() -> None:
    app()


if __name__ == "__main__":
    main()  # typer exits with the command's code
