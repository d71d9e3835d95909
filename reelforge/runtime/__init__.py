"""Running tasks: the job table with leases, the `Executor` protocol, and the embedded worker pool."""
