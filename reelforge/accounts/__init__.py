"""Who may call and what they may spend: API keys, AVS tokens and the credit ledger.

Below the task core: `tasks` debits and refunds through `ledger`, the edge authenticates through `keys` and
`tokens`; nothing here knows about tasks beyond the id a ledger entry names.
"""
