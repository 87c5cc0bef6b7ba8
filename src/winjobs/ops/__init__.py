"""Operator tools that belong to no single actor: machine set-up (symbolic links and
shares for shared mode), retention rules' inputs (durations). Pure where possible: the
commands they build are plain data, tested for Windows and Linux on any machine."""
