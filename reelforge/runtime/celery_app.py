"""The Celery app of the `celery` executor, built from `Settings`, and the naming of its queues.

The broker carries only "a task of these models is waiting" (the task id rides along for the logs); the job
table stays the source of truth for state, leases, attempts and results, so there is no result backend.
One queue per model (or per model group, `REELFORGE_CELERY_MODEL_QUEUES`), so a worker consumes only the
queues of the models it has loaded.

Reliability settings, and why:

- `task_acks_late` + `task_reject_on_worker_lost`: a message is acknowledged after its task ran, so a
  worker that dies holding one does not take it along (the broker hands it out again).
- `worker_prefetch_multiplier=1` (with one task at a time per worker process): a busy GPU worker does not
  sit on messages other workers could serve.
- `visibility_timeout` (Redis) above the longest job: otherwise Redis hands a running task's message to a
  second worker. That would be harmless (the job table lets one worker hold the task) but wasted work.
- `broker_heartbeat=0`: the solo pool runs the task on the thread that would answer AMQP heartbeats, so
  RabbitMQ would drop the connection of any worker busy longer than two heartbeats. A dead worker is
  found by its expired lease in the job table instead (and by its closed TCP connection).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reelforge.config import Settings
from reelforge.domain.errors import ErrorCode, ReelforgeError

if TYPE_CHECKING:
    from celery import Celery

TASK_NAME = "reelforge.run"
"""The one Celery task: `run(task_id, models)`, implemented by `reelforge.runtime.celery_worker`."""


def queue_name(settings: Settings, model: str) -> str:
    """The broker queue of `model`: `<prefix>.<group>`, the group being the model itself unless configured."""
    return f"{settings.celery_queue_prefix}.{settings.celery_model_queues.get(model, model)}"


def queues_for(settings: Settings, models: list[str] | None = None) -> dict[str, list[str]]:
    """Queue name -> the models it carries, for `models` (default: every model of the catalog).

    A model group is served as a whole: asking for one model of a group gives the group's queue with
    all of its models, since any of them may be next in that queue.
    """
    wanted = set(models) if models else set(settings.catalog.names)
    queues: dict[str, list[str]] = {}
    for model in settings.catalog.names:
        queues.setdefault(queue_name(settings, model), []).append(model)
    names = {queue_name(settings, model) for model in wanted}
    unknown = wanted - set(settings.catalog.names)
    if unknown:
        raise ReelforgeError(
            ErrorCode.INVALID_MODEL,
            f"Unknown model(s): {', '.join(sorted(unknown))}; available models: {', '.join(settings.catalog.names)}",
        )
    return {name: queues[name] for name in sorted(names)}


def create_celery_app(settings: Settings) -> Celery:
    """A Celery app for this deployment's broker, with the reliability settings above."""
    try:
        from celery import Celery
    except ImportError as exc:  # an optional extra
        raise ReelforgeError(
            ErrorCode.INTERNAL_ERROR, "the celery executor needs the celery extra: pip install 'reelforge[celery]'"
        ) from exc
    app = Celery("reelforge", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_transport_options={"visibility_timeout": settings.celery_visibility_timeout},
        broker_heartbeat=0,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,  # no result backend: results live in the job table
        task_serializer="json",
        accept_content=["json"],
        task_create_missing_queues=True,  # durable queues declared by whoever sends or consumes first
        task_default_queue=f"{settings.celery_queue_prefix}.default",
        worker_hijack_root_logger=False,  # reelforge configures logging itself
        worker_disable_rate_limits=True,
        worker_cancel_long_running_tasks_on_connection_loss=False,  # the job table decides who runs a task
        worker_enable_remote_control=False,  # no pidbox queues: nothing here uses remote control
    )
    return app
