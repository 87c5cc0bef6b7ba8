"""`python -m winjobs ...` runs the `winjobs` command (how the demo starts its children)."""

from winjobs.cli import main

main()
