"""`python -m winjobs.standin`: the stand-in solver, as the console script runs it."""

from winjobs.standin.cli import main

if __name__ == "__main__":
    main()
