"""Pure domain code: no I/O, no framework. Everything else depends on this, never the reverse."""
