"""One module per API contract in `shared/specs`. Each parses its payloads into `GenerationRequest`s,
renders `Task`s in its own shape and exports one `Dialect` value; `reelforge.server` lists them."""
