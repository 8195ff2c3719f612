"""`hydra/launcher=ray`: Hydra's Ray launcher plugin, for a sweep that outlives a node.

The plugin (hydra-ray-launcher, 1.2.x in the `ray` extra) starts Ray, or joins a cluster
(`hydra.launcher.ray.init.address`), and runs each job as a Ray task through its own remote
wrapper. Its `launch` then waits for the jobs in
order and stops at the first that raises, so one lost node ends the sweep with a traceback
and takes the still-running jobs with it. This launcher uses the plugin's start and its
remote wrapper and changes only how the jobs are collected: as they finish, each failure (a
node that died, a worker that crashed) becomes a job that failed, with its reason in its
metrics.json, and the sweep goes on. A job that fails returns jacnet's bad value
(`cli/jobs.py`), so a search goes on too, and the sweep's summary names the failed jobs and
the command that finishes only those. Each job's log names the Ray node that ran it.

The sweep directory must be on a disk every node sees (as for SLURM): each job writes its run
directory where it runs, and the summary reads them all.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any, Sequence

from hydra.core.utils import JobReturn
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

log = logging.getLogger(__name__)


class OnNode:
    """A job's task function that first logs which Ray node runs it."""

    def __init__(self, task_function: Any) -> None:
        self.task_function = task_function

    def __call__(self, cfg: DictConfig) -> Any:
        import ray
        import ray.util

        logging.getLogger("jacnet").info(
            "running on Ray node %s (%s)", ray.get_runtime_context().get_node_id(),
            ray.util.get_node_ip_address())
        return self.task_function(cfg)


class RayLauncher(Launcher):
    """hydra-ray-launcher's RayLauncher (the same config, `ray.init` and `ray.remote`),
    collecting jobs as they end and keeping failures. Hydra takes launchers from the
    `hydra_plugins` package only, hence this module's place. The plugin and Ray load when a
    sweep launches: Hydra's plugin scan, which imports this module on every command, stays
    cheap, and finds nothing missing without the `ray` extra."""

    def __init__(self, ray: DictConfig) -> None:
        self.ray_cfg = ray
        self.hydra_context: HydraContext | None = None
        self.task_function: TaskFunction | None = None
        self.config: DictConfig | None = None

    def setup(self, *, hydra_context: HydraContext, task_function: TaskFunction,
              config: DictConfig) -> None:
        self.config, self.hydra_context, self.task_function = config, hydra_context, task_function

    def launch(self, job_overrides: Sequence[Sequence[str]],
               initial_job_idx: int) -> Sequence[JobReturn]:
        import ray
        from hydra.core.singleton import Singleton
        from hydra.core.utils import configure_log, filter_overrides, setup_globals
        from hydra_plugins.hydra_ray_launcher._launcher_util import launch_job_on_ray, start_ray

        assert self.config is not None and self.hydra_context is not None
        assert self.task_function is not None
        setup_globals()
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        init = {k: v for k, v in OmegaConf.to_container(self.ray_cfg.init, resolve=True).items()
                if v is not None}
        try:
            _answers(init.get("address"))  # ray.init waits for ever on an address that is down
            start_ray(OmegaConf.create(init))
        except (ConnectionError, RuntimeError, ValueError, OSError) as exc:
            where = init.get("address")
            what = (f"hydra.launcher.ray.init.address={where}: no Ray cluster answers there"
                    if where else "Ray did not start on this machine")
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            print(f"jacnet {self.config.hydra.job.name}: error: {what} ({first}); start one "
                  "with `ray start --head` and pass its address, or drop the key to start Ray "
                  "here", file=sys.stderr)
            sys.exit(2)
        nodes = [n for n in ray.nodes() if n.get("Alive")]
        log.info("Ray launcher: %d jobs on %d node%s (%g CPUs), sweep output dir: %s",
                 len(job_overrides), len(nodes), "s" * (len(nodes) != 1),
                 ray.cluster_resources().get("CPU", 0), sweep_dir)
        remote = OmegaConf.create({k: v for k, v in OmegaConf.to_container(
            self.ray_cfg.remote, resolve=True).items() if v is not None})
        task = OnNode(self.task_function)
        jobs: dict[Any, tuple[int, Sequence[str], DictConfig]] = {}
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            log.info("\t#%d : %s", idx, " ".join(filter_overrides(overrides)))
            sweep_config = self.hydra_context.config_loader.load_sweep_config(
                self.config, list(overrides))
            with open_dict(sweep_config):
                sweep_config.hydra.job.id = f"job_id_for_{idx}"
                sweep_config.hydra.job.num = idx
            ref = launch_job_on_ray(self.hydra_context, remote, sweep_config, task,
                                    Singleton.get_state())
            jobs[ref] = (idx, overrides, sweep_config)
        returns: dict[int, JobReturn] = {}
        pending = list(jobs)
        try:
            while pending:
                ready, pending = ray.wait(pending, num_returns=1)
                for ref in ready:
                    idx, overrides, sweep_config = jobs[ref]
                    try:
                        returns[idx] = ray.get(ref)
                    except ray.exceptions.RayError as exc:
                        returns[idx] = failed_job(sweep_config, overrides, exc)
        except KeyboardInterrupt:  # Ctrl-C: Ray cancels this driver's jobs as it exits
            print(f"jacnet {self.config.hydra.job.name}: interrupted; {len(returns)} of "
                  f"{len(jobs)} jobs had ended, in {sweep_dir}", file=sys.stderr)
            sys.exit(130)
        return [returns[idx] for idx in sorted(returns)]


def _answers(address: str | None, timeout: float = 10.0) -> None:
    """Raise ConnectionError unless something listens at a HOST:PORT address (None, `auto`,
    `local` and `ray://` addresses are Ray's to resolve)."""
    import socket

    if not address or address in ("auto", "local") or "://" in address or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            return
    except ValueError:
        raise ConnectionError(f"{port!r} is not a port") from None
    except OSError as exc:
        raise ConnectionError(exc.strerror or str(exc)) from None


def failed_job(sweep_config: DictConfig, overrides: Sequence[str], exc: BaseException) -> JobReturn:
    """The JobReturn of a job that Ray lost: jacnet's bad value, so the sweep goes on; its
    run directory says why in metrics.json (unless the job wrote its own) and holds Hydra's
    record of its overrides, so the summary and `jacnet report` list it."""
    import yaml
    from hydra.core.utils import JobStatus

    from jacnet_cli.cli import jobs
    from jacnet_cli.run.metrics import write_json

    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    reason = f"lost by Ray: {type(exc).__name__}: {lines[0] if lines else ''}".rstrip(": ")
    job_dir = Path(str(sweep_config.hydra.sweep.dir)) / str(sweep_config.hydra.sweep.subdir)
    try:
        (job_dir / ".hydra").mkdir(parents=True, exist_ok=True)
        record = job_dir / ".hydra" / "overrides.yaml"
        if not record.is_file():
            record.write_text(yaml.safe_dump(list(overrides)))
        if not (job_dir / "metrics.json").is_file():
            # `lost`: stopped by its machine, not by itself; the same command runs it again.
            write_json(job_dir / "metrics.json", {"status": "failed", "reason": reason,
                                                  "lost": True})
    except OSError as err:  # a sweep directory this machine cannot write: the log says it
        log.warning("cannot record the failure in %s: %s", job_dir, err)
    num = sweep_config.hydra.job.num
    log.warning("job #%s (%s) failed: %s", num, " ".join(overrides), reason)
    print(f"jacnet {sweep_config.hydra.job.name}: failed: job {num}: {reason}", file=sys.stderr)
    return JobReturn(overrides=list(overrides), cfg=sweep_config, hydra_cfg=sweep_config,
                     working_dir=str(job_dir), task_name=str(sweep_config.hydra.job.name),
                     status=JobStatus.COMPLETED, _return_value=jobs.FAILED)
