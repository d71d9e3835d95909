"""`reelforge`: run the server or a worker, and manage keys and credits."""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from reelforge import __version__
from reelforge.cli.client_commands import register as register_client_commands
from reelforge.cli.client_commands import register_contract_aliases
from reelforge.cli.common import DataDir, configure_logging, settings_for, start_services
from reelforge.cli.db import db_app
from reelforge.cli.keys import credits_app, keys_app, tokens_app
from reelforge.cli.mcp_command import register as register_mcp_command
from reelforge.cli.skill_command import skill_app

if TYPE_CHECKING:
    from reelforge.cli.devkey import DevKey

app = typer.Typer(
    help="reelforge: a self-hosted video-generation API for AI agents.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(keys_app, name="keys")
app.add_typer(credits_app, name="credits")
app.add_typer(tokens_app, name="tokens")
app.add_typer(skill_app, name="skill")
app.add_typer(db_app, name="db")
register_client_commands(app)
register_contract_aliases(app)
register_mcp_command(app)
console = Console(soft_wrap=True)
log = logging.getLogger("reelforge")


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Embedded worker processes (0: run `reelforge worker` yourself).")] = 1,
    public_url: Annotated[
        str | None, typer.Option(envvar="REELFORGE_PUBLIC_URL", help="Base URL clients reach this server at.")
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            envvar="REELFORGE_EXECUTOR",
            help="embedded (workers started here) or celery (send tasks to "
            "`reelforge worker --executor celery` through REELFORGE_BROKER_URL) [default: embedded].",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="Logging level.")] = "INFO",
) -> None:
    """Run the API server with its embedded workers, printing a dev key and a first request."""
    import uvicorn

    from reelforge.cli.devkey import ensure_dev_key
    from reelforge.runtime.loader import build_executor, check_hosts, describe_executor
    from reelforge.server import create_app

    configure_logging(log_level)
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    settings = settings_for(data_dir, public_url=public_url, executor=executor)
    services = start_services(settings, "serve")
    if settings.executor == "embedded" and workers and (problems := check_hosts(services.tasks.engines())):
        typer.echo("reelforge serve: cannot start: its workers cannot run:\n  " + "\n  ".join(problems), err=True)
        raise typer.Exit(2)
    dev = ensure_dev_key(services) if settings.dev_key else None
    # celery: no workers here; they run wherever `reelforge worker` runs
    runner = build_executor(services, workers=workers, log_level=log_level)
    shown_workers = describe_executor(settings, workers)
    base = settings.public_url or f"http://{shown_host}:{port}"
    application = create_app(services, runner, default_base_url=base)
    console.print(f"\n[bold]reelforge {__version__}[/bold] on {base}  (data: {settings.data_dir})")
    console.print(f"  console: [bold]{base}/[/bold]  (sign in with an API key; the dev key below is an admin key)")
    console.print(
        f"  store: {services.db.write_engine.url.render_as_string(hide_password=True)}, "
        f"workers: {shown_workers}, docs: {base}/docs"
    )
    if dev is None:
        console.print("  no dev key (REELFORGE_DEV_KEY=false): create keys with `reelforge keys create`\n")
    else:
        _print_dev_key(dev, base, settings.data_dir)
    uvicorn.run(application, host=host, port=port, log_level=log_level.lower(), log_config=None)


def _print_dev_key(dev: DevKey, base: str, data_dir: Path) -> None:
    """The dev key and a first request. Secrets go to the terminal, not to a log: when stdout is not a
    terminal (a service manager's journal) and the key is not new, only its prefix is shown; the whole key
    is in dev-key.json. Fleets turn the dev key off (REELFORGE_DEV_KEY=false)."""
    reveal = dev.created or sys.stdout.isatty()
    shown_key = dev.secret if reveal else f"{dev.secret[:10]}... (full key in {data_dir / 'dev-key.json'})"
    console.print(f"  dev API key{' (new)' if dev.created else ''}: [bold]{shown_key}[/bold]  (credits: {dev.balance})")
    if reveal:
        console.print(f"  its webhook signing secret: {dev.webhook_secret}")
    console.print("\nCreate a 5 s text-to-video task:")
    console.print(
        f"  curl -s -X POST {base}/api/v1/generate/t2v -H 'key: {dev.secret if reveal else '<dev key>'}' "
        "-H 'content-type: application/json' "
        '-d \'{"prompt": "A cinematic sunset over a futuristic city skyline", '
        '"aspectRatio": "16:9", "duration": "5"}\'',
        soft_wrap=True,
    )
    console.print(
        "Then poll the statusUrl it returns, and fetch output.videoUrl from the responseUrl.\n", soft_wrap=True
    )


@app.command()
def worker(
    data_dir: DataDir = None,
    models: Annotated[str | None, typer.Option(help="Models to serve, comma-separated [default: all].")] = None,
    name: Annotated[str | None, typer.Option(help="Worker name in leases and logs.")] = None,
    exit_with_parent: Annotated[bool, typer.Option(hidden=True)] = False,
    executor: Annotated[
        str | None,
        typer.Option(
            envvar="REELFORGE_EXECUTOR",
            help="embedded (poll the job table) or celery (consume the models' "
            "queues on REELFORGE_BROKER_URL) [default: embedded].",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option(help="Logging level.")] = "INFO",
) -> None:
    """Run a standalone worker against the same data directory or database as the server.

    One task at a time: run one worker per GPU. With `--executor celery` it serves only `--models`.
    """
    from reelforge.runtime.worker import Worker

    configure_logging(log_level)
    settings = settings_for(data_dir, executor=executor)
    services = start_services(settings, "worker")
    chosen = [m.strip() for m in models.split(",") if m.strip()] if models else None
    if settings.executor == "celery":  # Celery handles SIGTERM/SIGINT: the running task is given back
        from reelforge.runtime.celery_worker import run_celery_worker

        run_celery_worker(services, models=chosen, name=name, log_level=log_level)
        return
    runner = Worker(
        services,
        name=name,
        models=chosen,
        parent_pid=os.getppid() if exit_with_parent else None,
    )
    if problems := runner.start_engines():  # e.g. fp8 on a GPU without fp8 compute (docs/gpu.md)
        typer.echo("reelforge worker: cannot start:\n  " + "\n  ".join(problems), err=True)
        raise typer.Exit(2)

    def _stop(signum: int, _frame: object) -> None:
        log.info("worker %s: signal %d, stopping after giving back the running task", runner.name, signum)
        runner.stop_event.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    runner.run_forever()


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


def main() -> None:
    app()
