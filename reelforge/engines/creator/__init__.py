"""The `creator` engine: plans a template from a prompt and assets, then renders it with `compose`."""
