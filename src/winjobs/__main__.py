"""`python -m winjobs ...` runs the `winjobs` command (how the demo starts its children)."""

from winjobs.cli import main

if __name__ == "__main__":  # the driver spawns its assembly process: the usual guard
    main()
