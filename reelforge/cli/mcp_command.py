"""`reelforge mcp`: the MCP tools over stdio, for agent hosts that launch their tool servers as commands.

It works on the same data directory (or database) as `reelforge serve`, with the caller's API key. By
default it starts one embedded worker of its own so it works with nothing else running; with `--workers 0`
it only queues tasks for the workers of a `reelforge serve` (or a fleet) sharing the database. Its stdout
is the protocol channel: logs and the workers' output go to stderr.
"""

from __future__ import annotations

import sys
from typing import Annotated

import anyio
import typer

from reelforge.cli.common import DataDir, configure_logging, settings_for, start_services


def register(app: typer.Typer) -> None:
    @app.command()
    def mcp(
        data_dir: DataDir = None,
        api_key: Annotated[
            str | None,
            typer.Option(
                envvar="REELFORGE_API_KEY",
                show_default=False,
                help="The API key the tools act as [default: the data directory's dev key].",
            ),
        ] = None,
        workers: Annotated[
            int,
            typer.Option(
                help="Embedded workers to start (0: use a running server's; none start with REELFORGE_EXECUTOR=celery)."
            ),
        ] = 1,
        public_url: Annotated[
            str | None,
            typer.Option(
                envvar="REELFORGE_PUBLIC_URL", help="Base URL in video links [default: http://127.0.0.1:8000]."
            ),
        ] = None,
        log_level: Annotated[str, typer.Option(help="Logging level (logs go to stderr).")] = "WARNING",
    ) -> None:
        """Serve the MCP tools (generate_video, get_video, cancel_video, list_models, render_template) over stdio."""
        from mcp.server.stdio import stdio_server

        from reelforge.cli.devkey import ensure_dev_key
        from reelforge.domain.errors import ReelforgeError
        from reelforge.edge.create import CreatePath
        from reelforge.mcp.server import build_server
        from reelforge.mcp.tools import Caller, VideoTools
        from reelforge.runtime.loader import build_executor

        configure_logging(log_level)  # basicConfig writes to stderr
        settings = settings_for(data_dir, public_url=public_url)
        services = start_services(settings, "mcp")
        try:
            secret = api_key or ensure_dev_key(services).secret
            services.keys.authenticate(secret)
        except ReelforgeError as exc:
            print(f"reelforge mcp: {exc.message} (set REELFORGE_API_KEY or --api-key)", file=sys.stderr)
            raise typer.Exit(2) from None
        base_url = settings.public_url or "http://127.0.0.1:8000"
        local_files = settings.public_url is None  # no server to link to: paths and file:// URIs

        def resolve_caller(_ctx: object) -> Caller:
            # Every call, as over HTTP: a key revoked while the agent host keeps this process running stops working.
            return Caller(key_id=services.keys.authenticate(secret).id, base_url=base_url, local_files=local_files)

        # celery: tasks go to the fleet's Celery workers, none start here; announcing the backlog is the API's job
        executor = build_executor(
            services, workers=workers, log_level=log_level, stdout=sys.stderr, announce_on_start=False
        )
        create_path = CreatePath(services.tasks, services.storage, settings, executor)
        tools = VideoTools(services, create_path, embed_max_bytes=settings.mcp_embed_max_bytes)
        server = build_server(tools, resolve_caller)

        async def serve_stdio() -> None:
            async with stdio_server() as (read_stream, write_stream):
                await server.run(read_stream, write_stream, server.create_initialization_options())

        executor.start()
        try:
            anyio.run(serve_stdio)
        finally:
            executor.stop()
            services.close()
