"""Client commands of `reelforge`: generate, status, task, tasks, cancel, models, login, run-workflow.

They talk to a server over HTTP with the SDK (`reelforge.client`), configured by flags, then
`REELFORGE_BASE_URL` / `REELFORGE_API_KEY` (or `AIVIDEO_API_KEY`), then `reelforge login`'s file.
Exit codes (also in `reelforge --help` of each command): 0 success; 1 unknown error; 2 usage or invalid
request; 3 authentication; 4 rate limited; 5 timed out waiting; 6 the task failed or was cancelled;
7 insufficient credits; 8 task not found; 9 network error.

`--out` is optional everywhere (without it the task's link is printed) and its folders are made before
anything is submitted, so a path that cannot be written is refused before a credit is taken; once a task
was charged, every outcome (saved, not saved, failed, still running) is an envelope, never a traceback
(`reelforge/cli/envelopes.py`).
"""

from __future__ import annotations

import base64
import json
import mimetypes
import os
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import platformdirs
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from reelforge.cli import envelopes
from reelforge.client import Client, ClientError, Envelope
from reelforge.client.core import WaitTimeout

console = Console(stderr=True)
EXIT_CODES = {
    "AUTH_FAILED": 3,
    "RATE_LIMITED": 4,
    "TIMEOUT": 5,
    "TASK_FAILED": 6,
    "INSUFFICIENT_CREDITS": 7,
    "TASK_NOT_FOUND": 8,
    "NETWORK_ERROR": 9,
    "INVALID_MODEL": 2,
    "INVALID_PAYLOAD": 2,
}
SCENES = {"text-to-video": "t2v", "image-to-video": "i2v"}
WORKFLOW_ACTIONS = ("createGeneration", "getStatus", "getTask", "cancelTask")

Host = Annotated[str | None, typer.Option("--host", help="Server URL [default: REELFORGE_BASE_URL or login].")]
ApiKey = Annotated[str | None, typer.Option("--api-key", help="API key [default: REELFORGE_API_KEY or login].")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]


def config_path() -> Path:
    return Path(platformdirs.user_config_dir("reelforge")) / "config.json"


def client_for(host: str | None, api_key: str | None, as_json: bool = True) -> Client:
    """The SDK client for the flags, the environment or the login file; a bad AIVIDEO_* value is an envelope."""
    saved: dict[str, Any] = {}
    if config_path().exists():
        saved = json.loads(config_path().read_text())
    try:
        return Client(
            host or os.environ.get("REELFORGE_BASE_URL") or saved.get("host"),
            api_key or os.environ.get("REELFORGE_API_KEY") or os.environ.get("AIVIDEO_API_KEY") or saved.get("apiKey"),
        )
    except ValueError as exc:  # AIVIDEO_TIMEOUT_MS / AIVIDEO_MAX_RETRIES not a whole number: the message names it
        fail(Envelope(ok=False, errorCode="INVALID_PAYLOAD", errorMessage=str(exc)), as_json)


def fail(envelope: Envelope | dict[str, Any], as_json: bool, code: str | None = None) -> NoReturn:
    """Print a failure envelope (JSON on stdout, or one line on stderr) and exit with its code's status."""
    body = envelope.to_dict() if isinstance(envelope, Envelope) else envelope
    if as_json:
        typer.echo(json.dumps(body))
    else:
        console.print(f"[red]{body['errorCode']}[/red]: {body['errorMessage']}", highlight=False)
        for step in body.get("nextSteps") or ():
            console.print(f"  next: {step}", highlight=False)
    raise typer.Exit(EXIT_CODES.get(code or body.get("errorCode") or "", 1))


def prepare_out(out: Path | None, as_json: bool) -> None:
    """Make `--out`'s folders before anything is submitted; a path that cannot be written is refused here,
    before a credit is taken (INVALID_PAYLOAD, exit 2)."""
    if out is None:
        return
    if out.is_dir():
        refuse(f"--out {out} is a folder; give a file path such as {out / 'video.mp4'}", as_json)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        refuse(f"--out: cannot create the folder {out.parent}: {exc.strerror or exc}", as_json)
    if not os.access(out.parent, os.W_OK):
        refuse(f"--out: the folder {out.parent} is not writable", as_json)


def refuse(message: str, as_json: bool) -> NoReturn:
    fail(Envelope(ok=False, errorCode="INVALID_PAYLOAD", errorMessage=message), as_json)


def save(client: Client, url: str, out: Path, task_id: str, as_json: bool) -> None:
    """Download a finished task's video to `out`; any failure is an envelope with the link (no traceback)."""
    try:
        client.download(url, out)
    except ClientError as exc:
        reason = f"{exc.envelope.errorCode}: {exc.envelope.errorMessage}"
        fail(envelopes.not_saved(task_id, url, str(out), reason, exc.envelope.errorCode or "UNKNOWN_ERROR"), as_json)
    except (OSError, httpx.HTTPError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
        fail(envelopes.not_saved(task_id, url, str(out), reason), as_json)


def image_input(value: str, flag: str = "--image") -> str:
    """A path becomes a data URI; URLs and data URIs pass through."""
    if value.startswith(("http://", "https://", "data:")):
        return value
    path = Path(value).expanduser()
    if not path.is_file():
        raise typer.BadParameter(f"{value} is neither a URL nor a readable file", param_hint=flag)
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def image_input_value(value: str) -> str:
    """One `--image-input` item of the Modkie spelling: a URL as given, a local file as a data URI."""
    return image_input(value.strip(), "--image-input")


def register(app: typer.Typer) -> None:
    @app.command()
    def login(
        host: Annotated[str, typer.Option(help="Server URL, e.g. http://127.0.0.1:8000.")],
        api_key: Annotated[str, typer.Option("--api-key", help="Your API key.")],
    ) -> None:
        """Save the server and key for the client commands (file mode 0600)."""
        path = config_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"host": host.rstrip("/"), "apiKey": api_key}, handle)
        os.chmod(path, 0o600)
        console.print(f"Saved to {path}")

    @app.command()
    def generate(
        prompt: Annotated[str, typer.Option(help="What the video shows.")],
        out: Annotated[
            Path | None, typer.Option(help="Where to save the MP4 (folders are made) [default: print the link].")
        ] = None,
        model: Annotated[str | None, typer.Option(help="Catalog model [default: from --scene].")] = None,
        scene: Annotated[str, typer.Option(help="text-to-video or image-to-video.")] = "text-to-video",
        image: Annotated[
            list[str] | None, typer.Option("--image", "--image-input", help="Image: a path, URL or data URI.")
        ] = None,
        aspect: Annotated[str, typer.Option(help="16:9, 9:16 or 1:1.")] = "16:9",
        duration: Annotated[int, typer.Option(help="Seconds.")] = 5,
        timeout: Annotated[float, typer.Option(help="Seconds to wait for the video.")] = 600,
        host: Host = None,
        api_key: ApiKey = None,
        as_json: AsJson = False,
    ) -> None:
        """Generate a video and save it, with a live progress bar."""
        if model is None and scene not in SCENES:
            raise typer.BadParameter(f"scene must be one of {', '.join(SCENES)}", param_hint="--scene")
        chosen = model or SCENES[scene]
        payload: dict[str, Any] = {"prompt": prompt, "aspectRatio": aspect, "duration": str(duration)}
        if image:
            payload["image"] = image_input(image[0])
        client = client_for(host, api_key, as_json)
        prepare_out(out, as_json)
        try:
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.percentage:>3.0f}%"),
                TimeElapsedColumn(),
                console=console,
                disable=as_json,
            ) as bar:
                row = bar.add_task("SUBMITTED", total=100)
                created = client.create(chosen, payload)
                task = client.wait(
                    created["taskId"],
                    timeout=timeout,
                    on_progress=lambda s: bar.update(
                        row, completed=s.get("progress", 0), description=s.get("status", "")
                    ),
                )
        except WaitTimeout as exc:
            state = exc.envelope
            fail(envelopes.wait_timeout(state.status, state.taskId or "", timeout, command="status"), as_json)
        except ClientError as exc:
            fail(exc.envelope, as_json)
        except httpx.HTTPError as exc:
            fail(Envelope.network_error(exc), as_json)
        if task["status"] != "COMPLETED":
            fail(envelopes.failed_task(task, task["status"], task["id"], command="task"), as_json)
        url = task["output"]["videoUrl"]
        if out is not None:
            save(client, url, out, task["id"], as_json)
        result = {
            "taskId": task["id"],
            "status": "success",
            "videoUrl": url,
            "url": url,
            "localPath": str(out) if out is not None else None,
            "model": chosen,
        }
        if as_json:
            typer.echo(json.dumps(result))
        else:
            typer.echo(f"Saved {out} ({task['id']})" if out is not None else f"{url} ({task['id']})")

    @app.command()
    def status(task_id: str, host: Host = None, api_key: ApiKey = None, as_json: AsJson = False) -> None:
        """A task's status and progress."""
        _show(lambda c: c.status(task_id), host, api_key, as_json)

    @app.command()
    def task(task_id: str, host: Host = None, api_key: ApiKey = None, as_json: AsJson = False) -> None:
        """A task's details."""
        _show(lambda c: c.get(task_id), host, api_key, as_json)

    @app.command()
    def tasks(host: Host = None, api_key: ApiKey = None, as_json: AsJson = False) -> None:
        """Your tasks, newest first."""
        _show(lambda c: c.list(), host, api_key, as_json)

    @app.command()
    def cancel(task_id: str, host: Host = None, api_key: ApiKey = None, as_json: AsJson = False) -> None:
        """Cancel a task that is still waiting."""
        _show(lambda c: c.cancel(task_id), host, api_key, as_json)

    @app.command()
    def models(host: Host = None, as_json: AsJson = False) -> None:
        """The server's model catalog."""
        _show(lambda c: c.models(), host, None, as_json)

    @app.command("run-workflow")
    def run_workflow(
        model: Annotated[str | None, typer.Option(help="Model for a full run or createGeneration.")] = None,
        payload: Annotated[str | None, typer.Option(help="The create payload as JSON.")] = None,
        action: Annotated[
            str | None, typer.Option(help="createGeneration, getStatus, getTask or cancelTask [default: full run].")
        ] = None,
        task_id: Annotated[str | None, typer.Option("--taskId", "--task-id", help="Task for --action.")] = None,
        timeout: Annotated[float, typer.Option(help="Seconds to wait in a full run.")] = 600,
        host: Host = None,
        api_key: ApiKey = None,
    ) -> None:
        """The executor contract's command: always prints one envelope as JSON.

        Without --action: create, poll with backoff, fetch the details. A failed task is `TASK_FAILED`
        (exit 6) with its error and `nextSteps`; a wait that runs out is `TIMEOUT` (exit 5).
        """
        if action is not None and action not in WORKFLOW_ACTIONS:
            refuse(f"--action must be one of {', '.join(WORKFLOW_ACTIONS)}, got {action!r}", True)
        client = client_for(host, api_key)
        try:
            if action in ("getStatus", "getTask", "cancelTask"):
                if not task_id:
                    refuse(f"--action {action} needs --taskId", True)
                calls = {"getStatus": client.status, "getTask": client.get, "cancelTask": client.cancel}
                data = calls[action](task_id)
                typer.echo(json.dumps(Envelope.success(data, task_id, data.get("status")).to_dict()))
                return
            if not model or payload is None:
                refuse(
                    "give --model and --payload (a full run or --action createGeneration), or --action and --taskId",
                    True,
                )
            try:
                body = json.loads(payload)
            except ValueError:
                refuse("--payload is not valid JSON", True)
            created = client.create(model, body)
            if action == "createGeneration":
                typer.echo(json.dumps(Envelope.success(created, created["taskId"], "SUBMITTED").to_dict()))
                return
            details = client.wait(created["taskId"], timeout=timeout)
            if details["status"] != "COMPLETED":
                fail(envelopes.failed_task(details, details["status"], details["id"]), True)
            typer.echo(json.dumps(Envelope.success(details, details["id"], details["status"]).to_dict()))
        except WaitTimeout as exc:
            state = exc.envelope
            fail(envelopes.wait_timeout(state.status, state.taskId or "", timeout), True)
        except ClientError as exc:
            fail(exc.envelope, True)
        except httpx.HTTPError as exc:
            fail(Envelope.network_error(exc), True)


def _show(call, host: str | None, api_key: str | None, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    client = client_for(host, api_key, as_json)
    try:
        data = call(client)
    except ClientError as exc:
        fail(exc.envelope, as_json)
    except httpx.HTTPError as exc:
        fail(Envelope.network_error(exc), as_json)
    if as_json:
        typer.echo(json.dumps(data))
    else:
        console.print_json(json.dumps(data))


def register_contract_aliases(app: typer.Typer) -> None:
    """The Modkie CLI's spelling (`video generate|query`, `actions list|schema`) over the same calls."""
    video_app = typer.Typer(help="Video commands as the Modkie CLI spells them.", no_args_is_help=True)
    actions_app = typer.Typer(help="List the server's actions and their JSON Schemas.", no_args_is_help=True)
    app.add_typer(video_app, name="video")
    app.add_typer(actions_app, name="actions")

    @video_app.command("generate")
    def video_generate(
        prompt: Annotated[str, typer.Option(help="What the video shows.")],
        out: Annotated[
            Path | None,
            typer.Option(help="Download the first videoUrl here (folders are made) [default: print the answer only]."),
        ] = None,
        scene: Annotated[
            str, typer.Option(help="text-to-video, image-to-video, video-to-video or ad-video.")
        ] = "text-to-video",
        provider: Annotated[
            str | None, typer.Option(help="Provider of --model (a provider/model pair the server's catalog maps).")
        ] = None,
        model: Annotated[str | None, typer.Option(help="A catalog model instead of the scene's.")] = None,
        image_input: Annotated[
            str | None, typer.Option("--image-input", help="Image URLs (or local paths), comma-separated.")
        ] = None,
        video_input: Annotated[str | None, typer.Option("--video-input", help="Video URLs, comma-separated.")] = None,
        timeout: Annotated[int, typer.Option(help="Milliseconds to wait.")] = 600_000,
        host: Host = None,
        api_key: ApiKey = None,
        as_json: AsJson = False,
    ) -> None:
        """Generate through the actions API, wait, and save the video (with --out)."""
        body: dict[str, Any] = {"prompt": prompt, "scene": scene, "timeoutMs": timeout}
        if provider:
            body["provider"] = provider
        if model:
            body["model"] = model
        if image_input:
            body["imageInput"] = [image_input_value(v) for v in image_input.split(",") if v.strip()]
        if video_input:
            body["videoInput"] = [v.strip() for v in video_input.split(",") if v.strip()]
        prepare_out(out, as_json)
        answer = _action(host, api_key, "ai.video.generate_and_wait", body, as_json)
        if answer["status"] in ("queued", "running"):
            fail(
                envelopes.wait_timeout(answer["status"], answer["taskId"], timeout / 1000, answer, "video query"),
                as_json,
            )
        if answer["status"] != "success":
            fail(envelopes.failed_task(answer, answer["status"], answer["taskId"], "video query"), as_json)
        if out is not None:
            save(client_for(host, api_key, as_json), answer["videoUrl"], out, answer["taskId"], as_json)
        result = {**answer, "localPath": str(out) if out is not None else None}
        if as_json:
            typer.echo(json.dumps(result))
        else:
            typer.echo(f"Saved {out} ({answer['taskId']})" if out is not None else f"{answer['videoUrl']}")

    @video_app.command("query")
    def video_query(
        task_id: Annotated[str, typer.Option("--task-id", help="The task.")],
        host: Host = None,
        api_key: ApiKey = None,
        as_json: AsJson = False,
    ) -> None:
        """A task through the actions API."""
        answer = _action(host, api_key, "ai.video.query", {"taskId": task_id}, as_json)
        typer.echo(json.dumps(answer)) if as_json else console.print_json(json.dumps(answer))

    @actions_app.command("list")
    def actions_list(host: Host = None, as_json: AsJson = False) -> None:
        """The actions the server offers."""
        _show(lambda c: c.actions(), host, None, as_json)

    @actions_app.command("schema")
    def actions_schema(name: str, host: Host = None) -> None:
        """One action's input and output JSON Schema."""
        _show(lambda c: c.action_schema(name), host, None, True)


def _action(host: str | None, api_key: str | None, name: str, body: dict[str, Any], as_json: bool) -> dict:
    client = client_for(host, api_key, as_json)
    try:
        response = client._http.post(
            f"{client.config.base_url}/api/actions/{name}",
            json=body,
            headers={"Authorization": f"Bearer {client.config.api_key or ''}"},
            timeout=max(client.config.timeout, body.get("timeoutMs", 0) / 1000 + 30),
        )
    except httpx.HTTPError as exc:
        fail(Envelope.network_error(exc), as_json)
    if not response.is_success:
        fail(Envelope.from_response(response), as_json)
    return response.json()
