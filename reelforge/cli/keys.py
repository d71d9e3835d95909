"""`reelforge keys ...` and `reelforge credits ...`: managing API keys and their credits locally."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from reelforge.cli.common import DataDir, settings_for
from reelforge.domain.errors import ReelforgeError
from reelforge.services import build_services

keys_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
credits_app = typer.Typer(help="Grant and show credits.", no_args_is_help=True)
console = Console()


def _fail(exc: ReelforgeError) -> None:
    console.print(f"[red]error:[/red] {exc.message}")
    raise typer.Exit(2)


@keys_app.command("create")
def create(
    data_dir: DataDir = None,
    name: Annotated[str, typer.Option(help="A label to recognise the key by.")] = "default",
    credits: Annotated[int, typer.Option(help="Credits granted at creation.")] = 0,
    admin: Annotated[
        bool, typer.Option("--admin", help="An operator's key: every key, credits and the queue (console admin pages).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a key. Its secret is printed once and never stored: copy it now."""
    services = build_services(settings_for(data_dir))
    created = services.keys.create(name=name, credits=credits, admin=admin)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "id": created.key.id,
                    "name": name,
                    "key": created.secret,
                    "webhookSecret": created.key.webhook_secret,
                    "credits": credits,
                    "admin": admin,
                }
            )
        )
        return
    kind = "admin key" if admin else "key"
    console.print(f"Created {kind} [bold]{created.key.id}[/bold] ({name}) with {credits} credits.")
    console.print(f"  API key:        {created.secret}")
    console.print(f"  webhook secret: {created.key.webhook_secret}")
    console.print("The API key is shown only now; reelforge keeps only its hash.")


@keys_app.command("list")
def list_keys(
    data_dir: DataDir = None, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """List keys with their balances (secrets are never shown)."""
    services = build_services(settings_for(data_dir))
    rows: list[dict[str, Any]] = [
        {
            "id": k.id,
            "name": k.name,
            "prefix": k.prefix + "...",
            "active": k.active,
            "admin": k.admin,
            "credits": services.keys.balance(k.id),
            "createdAt": k.created_at.isoformat(),
        }
        for k in services.keys.all_keys()
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("id", "name", "prefix", "active", "credits", "created")
    for row in rows:
        table.add_row(
            row["id"],
            row["name"],
            row["prefix"],
            ("yes" if row["active"] else "revoked") + (" (admin)" if row["admin"] else ""),
            str(row["credits"]),
            row["createdAt"][:19],
        )
    console.print(table)


@keys_app.command("revoke")
def revoke(key_id: str, data_dir: DataDir = None) -> None:
    """Revoke a key: it stops working at once; its tasks and ledger stay."""
    services = build_services(settings_for(data_dir))
    try:
        services.keys.revoke(key_id)
    except ReelforgeError as exc:
        _fail(exc)
    console.print(f"Revoked {key_id}.")


@credits_app.command("grant")
def grant(
    key_id: str,
    amount: int,
    data_dir: DataDir = None,
    note: Annotated[str | None, typer.Option(help="Why, for the ledger.")] = None,
) -> None:
    """Add credits to a key (a negative amount removes them)."""
    services = build_services(settings_for(data_dir))
    try:
        balance = services.keys.grant(key_id, amount, note)
    except ReelforgeError as exc:
        _fail(exc)
    console.print(f"{key_id}: {amount:+d} credits, balance {balance}.")


@credits_app.command("show")
def show(
    key_id: str, data_dir: DataDir = None, as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False
) -> None:
    """Show a key's balance and its ledger."""
    from reelforge.accounts import ledger

    services = build_services(settings_for(data_dir))
    try:
        services.keys.get(key_id)
    except ReelforgeError as exc:
        _fail(exc)
    with services.db.read() as conn:
        rows = ledger.entries(conn, key_id)
    balance = sum(row["amount"] for row in rows)
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "id": key_id,
                    "balance": balance,
                    "ledger": [
                        {
                            "amount": r["amount"],
                            "reason": r["reason"],
                            "taskId": r["task_id"],
                            "note": r["note"],
                            "createdAt": r["created_at"].isoformat(),
                        }
                        for r in rows
                    ],
                }
            )
        )
        return
    table = Table("when", "amount", "reason", "task", "note")
    for r in rows:
        table.add_row(
            r["created_at"].isoformat()[:19], f"{r['amount']:+d}", r["reason"], r["task_id"] or "", r["note"] or ""
        )
    console.print(table)
    console.print(f"balance: [bold]{balance}[/bold]")


tokens_app = typer.Typer(
    help="Create, list, rotate and revoke AVS tokens (avs.<tokenId>.<secret>).", no_args_is_help=True
)


@tokens_app.command("create")
def token_create(
    key_id: Annotated[str, typer.Argument(help="The API key (account) the token acts for.")],
    data_dir: DataDir = None,
    name: Annotated[str, typer.Option(help="A label for the token.")] = "default",
    kind: Annotated[str, typer.Option(help="public_api (the AVS video API) or cli.")] = "public_api",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a token; it is printed once and only its hash is kept."""
    services = build_services(settings_for(data_dir))
    try:
        issued = services.tokens.create(key_id, name, kind)
    except ReelforgeError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps({"tokenId": issued.token.id, "token": issued.secret, "name": name, "kind": kind}))
        return
    console.print(f"Created {kind} token [bold]{issued.token.id}[/bold] ({name}) for {key_id}:")
    console.print(f"  {issued.secret}")


@tokens_app.command("list")
def token_list(
    data_dir: DataDir = None,
    key_id: Annotated[str | None, typer.Option(help="Only this key's tokens.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List tokens (never their secrets)."""
    services = build_services(settings_for(data_dir))
    rows: list[dict[str, Any]] = [
        {
            "tokenId": t.id,
            "keyId": t.key_id,
            "name": t.name,
            "kind": t.kind,
            "active": t.active,
            "createdAt": t.created_at.isoformat(),
        }
        for t in services.tokens.tokens_of(key_id)
    ]
    if as_json:
        typer.echo(json.dumps(rows))
        return
    table = Table("token id", "key", "name", "kind", "active", "created")
    for row in rows:
        table.add_row(
            row["tokenId"],
            row["keyId"],
            row["name"],
            row["kind"],
            "yes" if row["active"] else "revoked",
            row["createdAt"][:19],
        )
    console.print(table)


@tokens_app.command("rotate")
def token_rotate(
    token_id: str,
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Give a token a new secret; the old one stops working at once."""
    services = build_services(settings_for(data_dir))
    try:
        issued = services.tokens.rotate(token_id)
    except ReelforgeError as exc:
        _fail(exc)
    if as_json:
        typer.echo(json.dumps({"tokenId": token_id, "token": issued.secret}))
        return
    console.print(f"Rotated {token_id}: {issued.secret}")


@tokens_app.command("revoke")
def token_revoke(token_id: str, data_dir: DataDir = None) -> None:
    """Revoke a token."""
    services = build_services(settings_for(data_dir))
    try:
        services.tokens.revoke(token_id)
    except ReelforgeError as exc:
        _fail(exc)
    console.print(f"Revoked {token_id}.")
