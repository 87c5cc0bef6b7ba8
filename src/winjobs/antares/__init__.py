"""The Antares domain, pure: studies, INI files, playlists, archives, run outputs, merging.

No HTTP, no database, nothing of winjobs but `winjobs.errors`: the driver, the worker and
the stand-in solver all build on it, and it can be tested on files alone.
"""
