"""The task core: `TaskService` (the only writer of task state and credits), keys and the ledger."""
