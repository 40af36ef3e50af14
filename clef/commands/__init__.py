"""Sub-commands of the `clef` CLI, one module each."""
