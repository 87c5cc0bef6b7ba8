"""A stand-in for the Antares solver: same command line, same output format, synthetic numbers.

The real solver cannot be installed on the development and CI machines; this program lets
tests and the demo exercise every code path the real binary would.
"""
