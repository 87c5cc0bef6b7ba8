"""Commands on local studies and runs: `inspect`, `merge`."""

from __future__ import annotations
