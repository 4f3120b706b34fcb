"""``codecbench app``: the web app (Listen, Leaderboard, MUSHRA participant and Admin pages).

A thin wrapper over :func:`codecbench.app.launch`; Gradio is imported only when the app starts.
"""

from __future__ import annotations

import click

from codecbench.cli.options import (
    DEFAULT_HOST,
    DEFAULT_PORT,
    database_option,
    device_option,
    max_duration_option,
    model_dir_option,
    model_dirs_by_codec,
    open_database_or_exit,
)

ADMIN_PASSWORD_ENV = "CODECBENCH_ADMIN_PASSWORD"


@click.command("app")
@click.option("--host", default=DEFAULT_HOST, show_default=True, help="Interface to serve on.")
@click.option("--port", default=DEFAULT_PORT, show_default=True, type=int, help="Port to serve on.")
@max_duration_option("Longest upload accepted, in seconds.")
@database_option
@click.option(
    "--public-url", envvar="CODECBENCH_PUBLIC_URL", default=None, show_envvar=True,
    help="Address participants reach the app at, for the links the Admin page shows (default: http://HOST:PORT/).",
)
@click.option(
    "--admin-password", envvar=ADMIN_PASSWORD_ENV, default=None, show_envvar=True,
    help="Password of the Admin page (prefer the environment variable: options show in process lists). "
    "Without one, the Admin page refuses everything.",
)
@model_dir_option(several_codecs=True)
@device_option()
@click.option(
    "--ray-address", default=None, metavar="ADDRESS",
    help="A Ray cluster (auto, ray://HOST:10001, HOST:6379) the Leaderboard page's evaluate panel may run on, "
    "besides this server (pip install \"codecbench[ray]\").",
)
def app_command(
    host: str,
    port: int,
    max_duration: float,
    database_url: str | None,
    public_url: str | None,
    admin_password: str | None,
    model_dirs: tuple[str, ...],
    device: str,
    ray_address: str | None,
) -> None:
    """Start the web app on http://HOST:PORT: Listen page, MUSHRA participant page (/mushra/) and Admin (/admin/)."""
    from codecbench.app import AppSettings, launch

    model_dirs_by_name = model_dirs_by_codec(model_dirs)
    database = open_database_or_exit(database_url)
    click.echo(f"database: {database.describe()}", err=True)
    if not admin_password:
        click.echo(f"warning: no admin password ({ADMIN_PASSWORD_ENV}); the Admin page refuses every request.", err=True)
    try:
        settings = AppSettings(
            max_duration_s=max_duration,
            database_url=database.url,
            admin_password=admin_password,
            public_url=public_url,
            model_dirs=model_dirs_by_name,
            device=device,
            ray_address=ray_address,
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    finally:
        database.close()
    launch(settings, host=host, port=port)
