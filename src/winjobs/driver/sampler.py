"""Records the pool's load (online and busy workers and cores) every
`utilisation_sample_s`, keeping `utilisation_keep_hours` of it: the history of the
dashboard's utilisation chart. One small insert (and a delete of the oldest) a minute by
default: nothing the queue notices."""

from __future__ import annotations

from datetime import timedelta

from winjobs.driver.overview import Overview
from winjobs.driver.periodic import Periodic
from winjobs.driver.settings import DriverSettings


class LoadSampler(Periodic):
    name = "winjobs-load-sampler"

    def __init__(self, overview: Overview, settings: DriverSettings) -> None:
        super().__init__(settings.utilisation_sample_s)
        self.overview = overview
        self.keep = timedelta(hours=settings.utilisation_keep_hours)

    def tick(self) -> object:
        sample = self.overview.load_sample()
        self.overview.store.record_sample(sample, keep_after=sample.at - self.keep)
        return sample
