"""A running driver's parts, built and recovered at start-up, stopped at shut-down."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from winjobs.antares.unpack import UnpackLimits
from winjobs.driver import fairshare
from winjobs.driver.assembly import Assembler, ProcessAssembler
from winjobs.driver.collector import Collector
from winjobs.driver.db import make_engine, migrate
from winjobs.driver.dispatch import Dispatch
from winjobs.driver.files import DataDir
from winjobs.driver.jobs import JobService
from winjobs.driver.leases import Sweeper
from winjobs.driver.metrics import ClaimStats, TaskStats
from winjobs.driver.notify.sender import NotificationSender, public_url
from winjobs.driver.overview import Overview
from winjobs.driver.pool import PoolService
from winjobs.driver.sampler import LoadSampler
from winjobs.driver.settings import DriverSettings
from winjobs.driver.shared import SharedFolders, symlink_problem
from winjobs.driver.signals import WorkSignal
from winjobs.driver.store import Clock, Store, utcnow

log = logging.getLogger(__name__)


def make_assembler(idle_s: float | None) -> Assembler:
    """Where a driver runs its merges and result zips: its assembly process, ended after
    `idle_s` without work. (The unit tests replace this seam with `InlineAssembler`: a
    process per test app costs more than the test; the loopback and end-to-end drivers
    keep the process.)"""
    return ProcessAssembler(idle_s)


@dataclass
class Driver:
    """Everything a running driver holds; one per app (`app.state.driver`)."""

    settings: DriverSettings
    store: Store
    files: DataDir
    signal: WorkSignal
    claims: ClaimStats
    collector: Collector
    sweeper: Sweeper
    jobs: JobService
    dispatch: Dispatch
    pool: PoolService
    overview: Overview
    sampler: LoadSampler
    task_stats: TaskStats
    notifier: NotificationSender

    @classmethod
    def start(cls, settings: DriverSettings, clock: Clock = utcnow) -> Driver:
        files = DataDir(settings.data_dir)
        files.prepare()
        engine = make_engine(settings.resolved_database_url, pool_size=20)
        migrate(engine)
        # the one half-life of the users' usage: the store's own writes and the claims'
        # (`Dispatch.policy.order`) both decay it with the order's rules
        half_life_s = fairshare.order_rules(settings).half_life_s
        store = Store(engine, clock=clock, usage_half_life_s=half_life_s)
        store.writer.journal = files.append_job_lines
        signal, claims = WorkSignal(), ClaimStats()
        limits = UnpackLimits(
            max_total_bytes=settings.max_unpacked_bytes,
            max_ratio=settings.max_compression_ratio,
        )
        task_stats = TaskStats()
        assembler = make_assembler(settings.assembly_idle_s)
        collector = Collector(store, files, limits, assembler, task_stats)
        shared = SharedFolders(settings, files, store)
        dispatch = Dispatch(store, files, settings, signal, claims, collector, shared, task_stats)
        sweeper = Sweeper(
            store,
            settings.sweep_interval_s,
            dispatch.failure_rules,
            on_events=dispatch.record,
            stats=task_stats,
        )
        pool = PoolService(store, settings, signal)
        overview = Overview(store, settings, pool)
        jobs = JobService(store, files, settings, signal, collector, shared, overview)
        sampler = LoadSampler(overview, settings)
        url = public_url(settings.notify, settings.host, settings.port)
        notifier = NotificationSender.build(store, settings.notify, settings.data_dir, url, clock)
        driver = cls(
            settings,
            store,
            files,
            signal,
            claims,
            collector,
            sweeper,
            jobs,
            dispatch,
            pool,
            overview,
            sampler,
            task_stats,
            notifier,
        )
        if shared.link and (problem := symlink_problem(files.tmp)) is not None:
            log.error("%s; assemblies will fail until this is fixed", problem)
        driver._recover()
        collector.start()
        sweeper.start()
        sampler.start()
        notifier.start()  # sends what a previous run left undelivered
        return driver

    def _recover(self) -> None:
        """Put the data folder back in line with the database after a crash."""
        removed = self.files.cleanup(
            self.store.job_ids(), self.store.study_hashes(), self.store.outputs_to_keep()
        )
        removed += self.dispatch.shared.remove_archives(self.store.study_hashes())
        for path in removed:
            log.info("removed %s: no committed job or task refers to it", path)
        extended = self.store.extend_running_leases(self.settings.lease_seconds)
        if extended:
            log.info("gave %d running task(s) a fresh lease after start-up", extended)
        self.collector.recover()

    def stop(self) -> None:
        self.sampler.stop()
        self.sweeper.stop()
        self.collector.stop()
        self.notifier.stop()
        self.store.close()
        self.store.engine.dispose()
