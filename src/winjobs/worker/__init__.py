"""The worker: claims tasks, stages studies, runs the solver, reports back, forever."""
