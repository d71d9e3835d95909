"""Running tasks: the `Executor` protocol, the embedded worker pool and the Celery executor. The job table
they claim from belongs to the task core (`reelforge.tasks.jobs`)."""
