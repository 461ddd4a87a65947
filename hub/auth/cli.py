"""`carehub users ...` and `carehub apikeys ...`: accounts and integration keys from the shell."""

from __future__ import annotations

import os

import typer

from hub import migrate
from hub.auth.roles import Role

users_app = typer.Typer(no_args_is_help=True)
apikeys_app = typer.Typer(no_args_is_help=True)


@users_app.command("add")
def add_user(
    username: str,
    role: Role = typer.Option(..., help="duty_operator, dispatcher, caregiver, safety_officer, family, ..."),
    site: list[int] = typer.Option([], help="Site id this user works for (repeat); none = every site."),
    resident: list[int] = typer.Option([], help="Family users: id of their relative (repeat)."),
    display_name: str = typer.Option("", help="Name shown in the console and the records."),
    language: str = typer.Option("zh-CN", help="zh-CN or en."),
    password_env: str = typer.Option("", help="Read the password from this environment variable."),
) -> None:
    """Create a user (the password is prompted for unless --password-env names a variable)."""
    from hub.auth import service
    from hub.auth.models import UserCreate

    password = os.environ.get(password_env, "") if password_env else typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True)
    try:
        user_in = UserCreate(username=username, password=password, role=role, display_name=display_name,
                             site_ids=site, resident_ids=resident, language=language)
        with migrate.open_store()() as session, session.begin():
            user = service.create_user(db_session=session, user_in=user_in)
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    typer.echo(f"user #{user.id} {user.username} ({user.role})")


@apikeys_app.command("create")
def create_key(
    name: str,
    role: Role = typer.Option(Role.INTEGRATION, help="integration (NB-IoT pushes) or a staff role for scripts."),
    site: list[int] = typer.Option([], help="Site id in scope (repeat); none = every site."),
) -> None:
    """Create an API key and print it once on stdout (only its digest is stored)."""
    from hub.auth import service
    from hub.auth.models import ApiKeyCreate

    try:
        with migrate.open_store()() as session, session.begin():
            _row, key = service.create_api_key(db_session=session,
                                               key_in=ApiKeyCreate(name=name, role=role, site_ids=site))
    except ValueError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(1) from err
    typer.echo(key)
