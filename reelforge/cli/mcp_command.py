"""`reelforge mcp`: the MCP tools over stdio, for agent hosts that launch their tool servers as commands.

With `--url` / `REELFORGE_BASE_URL` it is a client of that reelforge: every tool goes to the server's `/mcp`
over HTTP with the API key (`reelforge.mcp.remote`), and nothing local is opened. Without it (local mode)
it works on the same data directory (or database) as `reelforge serve`, with the caller's API key. By
default it starts one embedded worker of its own so it works with nothing else running; with `--workers 0`
it only queues tasks for the workers of a `reelforge serve` (or a fleet) sharing the database. Its stdout
is the protocol channel: logs and the workers' output go to stderr.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

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
        url: Annotated[
            str | None,
            typer.Option(
                "--url",
                envvar="REELFORGE_BASE_URL",
                show_default=False,
                help="A reelforge server to use over HTTP (its /mcp, with the API key): no local data directory, "
                "database or worker.",
            ),
        ] = None,
    ) -> None:
        """Serve the MCP tools (generate_video, get_video, cancel_video, list_models, render_template) over stdio."""
        from mcp.server.stdio import stdio_server

        if url:
            configure_logging(log_level)
            serve_remote(url, api_key, stdio_server)
            return

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


def serve_remote(url: str, api_key: str | None, stdio_server: Any) -> None:
    """`reelforge mcp --url`: every tool over that server's HTTP API; the key is checked before serving."""
    from reelforge.client.config import ClientConfig
    from reelforge.domain.errors import ReelforgeError
    from reelforge.mcp.remote import Remote, build_remote_server

    try:
        remote = Remote(ClientConfig.resolve(url, api_key))
        anyio.run(remote.list_tools)  # a wrong URL or key ends here, not at the agent's first call
    except ReelforgeError as exc:
        print(
            f"reelforge mcp: {exc.code}: {exc.message} (set REELFORGE_BASE_URL and REELFORGE_API_KEY)", file=sys.stderr
        )
        raise typer.Exit(2) from None
    server = build_remote_server(remote)

    async def serve_stdio() -> None:
        async with stdio_server() as (read_stream, write_stream):
            await server.run(read_stream, write_stream, server.create_initialization_options())

    anyio.run(serve_stdio)
