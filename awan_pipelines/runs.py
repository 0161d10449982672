"""Runs of the code location's jobs, created as the UI creates them, executed in this process.

`execute_in_process` runs an in-memory job: its run has no code-location origin, so the UI
leaves it off the Overview timeline and warns, on re-execution, that the job "may be a
different version". A run created here carries what a run launched from the UI carries — the
origin of the `workspace.yaml` location (its name and repository) and the job snapshot that
location serves — and is then executed by Dagster's own run executor (`execute_run`, what a
run worker calls), in this process, with the location's executor. The UI therefore treats it
as one of its own runs: on the timeline, re-executable without a warning.

Because the run executes here, no code server watches it; if this process is killed, the
monitoring daemon ends the run after its `dagster/max_runtime` (`run_limits.py`).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import yaml
from dagster._core.execution.api import execute_run
from dagster._core.execution.job_execution_result import JobExecutionResult
from dagster._core.remote_origin import InProcessCodeLocationOrigin
from dagster._core.remote_representation.code_location import CodeLocation
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from dagster._utils.hosted_user_process import recon_job_from_origin

ROOT = Path(__file__).resolve().parents[1]
WORKSPACE = ROOT / "workspace.yaml"


def workspace_module(workspace: Path = WORKSPACE) -> tuple[str, str]:
    """(module name, location name) of the workspace's one Python-module code location."""
    entries = yaml.safe_load(workspace.read_text())["load_from"]
    module = next(e["python_module"] for e in entries if "python_module" in e)
    return module["module_name"], module["location_name"]


@contextmanager
def code_location(instance: dg.DagsterInstance) -> Iterator[CodeLocation]:
    """The workspace's code location, loaded in this process under its workspace name."""
    module, name = workspace_module()
    # A code server imports the module fresh, so its definitions read the environment as it is
    # now (the demo points AWAN_CONFIG_FILE at its own config); a copy imported earlier in this
    # process may have read another environment.
    sys.modules.pop(module, None)
    origin = InProcessCodeLocationOrigin(
        LoadableTargetOrigin(
            executable_path=sys.executable, module_name=module, working_directory=str(ROOT)
        ),
        location_name=name,
    )
    with origin.create_location(instance) as location:
        yield location


def execute_job_run(
    instance: dg.DagsterInstance,
    location: CodeLocation,
    job_name: str,
    tags: Mapping[str, str],
    run_config: Mapping[str, object] | None = None,
) -> JobExecutionResult:
    """Create a run of `job_name` as the UI would, then execute it here (never raises on a
    failed step: the result says whether it succeeded)."""
    (repository,) = location.get_repositories().values()
    remote_job = repository.get_full_job(job_name)
    plan = location.get_execution_plan(
        remote_job,
        dict(run_config or {}),
        step_keys_to_execute=None,
        known_state=None,
        instance=instance,
    ).execution_plan_snapshot
    run = instance.create_run(
        job_name=job_name,
        run_id=None,
        run_config=dict(run_config or {}),
        resolved_op_selection=None,
        step_keys_to_execute=plan.step_keys_to_execute,
        op_selection=None,
        status=None,
        root_run_id=None,
        parent_run_id=None,
        tags={**remote_job.tags, **tags},
        job_snapshot=remote_job.job_snapshot,
        execution_plan_snapshot=plan,
        parent_job_snapshot=remote_job.parent_job_snapshot,
        remote_job_origin=remote_job.get_remote_origin(),
        job_code_origin=remote_job.get_python_origin(),
        asset_selection=None,
        asset_check_selection=None,
        asset_graph=repository.asset_graph,
    )
    return execute_run(
        recon_job_from_origin(remote_job.get_python_origin()), run, instance, raise_on_error=False
    )
