"""The task core: `TaskService` (the only writer of task state and credits), the job table with its leases,
task records and the output expiry sweep. Keys, tokens and the ledger live one layer down, in `accounts`."""
