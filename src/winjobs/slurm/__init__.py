"""`winjobs slurm`: a pool manager that runs the driver's queue on a Slurm cluster with
pilot jobs (docs/slurm.md). It talks to the driver over HTTP (`client`, `wire`) and to
Slurm through its commands; the pilots it submits are ordinary `winjobs worker`s."""
