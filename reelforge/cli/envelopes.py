"""The CLI's envelopes for what the executor contract leaves open: a failed task, a wait that ran out, a
video that was made but not saved.

The contract (`shared/specs/001_*.txt`) normalizes every answer to `{ok, status, taskId, data, errorCode,
errorMessage, retryAfter}` with eight codes for API and runtime errors, and asks that a FAILED task be
returned "with actionable next steps". A task that ran and failed, and a wait that ended before the task
did, are neither an API nor a runtime error, so they get two more codes, named as the CLI's exit codes
already were: `TASK_FAILED` (exit 6; `errorMessage` is the task's own code and message, `data` its details)
and `TIMEOUT` (exit 5; the task goes on). Every failure envelope the CLI prints also carries `nextSteps`,
a list of sentences saying what to do (docs/contract-choices.md).
"""

from __future__ import annotations

from typing import Any

REFUNDED = "the credits it took were given back"
NEXT_STEPS: dict[str, str] = {
    "INPUT_FETCH_FAILED": (
        "make the input URL public (https, answering 200 with the media) or send the image as a "
        "data:image/...;base64,... URI, then create the task again"
    ),
    "INVALID_PAYLOAD": "change the input as the message says, then create the task again",
    "ENGINE_ERROR": "create the task again; if it fails the same way, report the taskId to the server's operator",
    "INTERNAL_ERROR": "create the task again; if it fails the same way, report the taskId to the server's operator",
    "WORKER_LOST": "create the task again (its worker stopped while running it)",
    "WORK_DIR_UNWRITABLE": "ask the operator to make the server's work directory writable, then create the task again",
    "UPSTREAM_ERROR": "the hosted provider refused the task: change the input as its message says and create again",
    "UPSTREAM_UNAVAILABLE": "the hosted provider is busy or down: create the task again in a few minutes",
    "UPSTREAM_NOT_CONFIGURED": "ask the server's operator to set the provider's API key, then create again",
    "OUTPUT_EXPIRED": "the video was deleted after its expiry: create the task again",
}
DEFAULT_STEP = "create the task again; if it fails the same way, report the taskId to the server's operator"


def failed_task(details: dict[str, Any], status: str, task_id: str, command: str = "run-workflow") -> dict[str, Any]:
    """The envelope of a task that ended FAILED or CANCEL: its error code and message, and what to do."""
    error = details.get("error") or {}
    code = error.get("code")
    message = error.get("message") or f"the task ended {status}"
    if status in ("CANCEL", "cancelled"):
        steps = ["the task was cancelled (" + REFUNDED + "); create it again if you still want the video"]
    else:
        steps = [f"{NEXT_STEPS.get(code or '', DEFAULT_STEP)} ({REFUNDED})"]
    steps.append(f"see the task: reelforge {command} " + _task_arg(command, task_id))
    return {
        "ok": False,
        "status": status,
        "taskId": task_id,
        "data": details,
        "errorCode": "TASK_FAILED",
        "errorMessage": f"{code}: {message}" if code else message,
        "retryAfter": None,
        "nextSteps": steps,
    }


def wait_timeout(
    status: str | None, task_id: str, waited_s: float, data: Any = None, command: str = "run-workflow"
) -> dict[str, Any]:
    """The envelope of a wait that ran out: not a failure, the task goes on."""
    return {
        "ok": False,
        "status": status,
        "taskId": task_id,
        "data": data,
        "errorCode": "TIMEOUT",
        "errorMessage": f"the task is still {status} after {waited_s:g} s of waiting; it goes on",
        "retryAfter": 10.0,
        "nextSteps": [
            f"poll it: reelforge {command} " + _task_arg(command, task_id, "getStatus"),
            "or wait longer next time (--timeout)",
        ],
    }


def not_saved(task_id: str, url: str, path: str, reason: str, error_code: str = "UNKNOWN_ERROR") -> dict[str, Any]:
    """The envelope of a finished (and charged) task whose video could not be written to `--out`."""
    return {
        "ok": False,
        "status": "COMPLETED",
        "taskId": task_id,
        "data": {"taskId": task_id, "videoUrl": url},
        "errorCode": error_code,
        "errorMessage": f"the video is ready but was not saved to {path}: {reason}",
        "retryAfter": None,
        "nextSteps": [
            f"download it from data.videoUrl, or run: reelforge task {task_id} (a fresh link)",
            "fix the path (a writable file path) and save it again",
        ],
    }


def _task_arg(command: str, task_id: str, action: str = "getTask") -> str:
    """The arguments that name `task_id` to `reelforge <command>`."""
    if command == "video query":
        return f"--task-id {task_id} --json"
    if command in ("task", "status"):
        return task_id
    return f"--action {action} --taskId {task_id}"
