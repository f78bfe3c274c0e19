"""Command groups of the CLI that live in their own module (`cadenza.cli` adds each with `add_parser`)."""
