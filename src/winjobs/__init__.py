"""antares-winjobs: spread the Monte-Carlo years of Antares Simulator studies over many machines."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("antares-winjobs")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
