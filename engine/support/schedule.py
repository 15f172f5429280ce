"""The support sampler's DPM-Solver++ schedule: ``support.scheduler``.

- ``dpm-solver`` (``paper``; the paper names only "DPM-Solver", B.3): the pipeline's ``DPMSolverMultistepScheduler``
  as the installed diffusers builds it from Stable Diffusion's ``scheduler_config.json``. Since diffusers 0.26 its
  default ``final_sigmas_type="zero"`` appends sigma 0 to the schedule and, because of it, takes the last step as
  a first-order (Euler) step to a clean sample.
- ``dpm-solver-0.14`` (``sdov``): the schedule of diffusers 0.14.0, the release karazijal/sdov pinned
  (``conda_environment.yml``: ``diffusers==0.14.0``; ``sd.py:1202`` builds the scheduler with
  ``DPMSolverMultistepScheduler.from_config(pipe.scheduler.config)``). 0.14.0's ``set_timesteps`` takes
  ``linspace(0, 999, steps + 1)``, rounded, reversed, without its last entry; its ``step`` ends at training
  timestep 0 (``prev_timestep = 0`` on the last step), whose sigma is sqrt((1 - alphas_cumprod[0]) /
  alphas_cumprod[0]), and takes that step in second order (``lower_order_final`` only below 15 steps). Today's
  diffusers gives exactly this with ``final_sigmas_type="sigma_min"``; ``SCHEDULE_0_14`` also pins every option
  newer releases added to the value that reproduces 0.14.0, so a later default cannot move it.

tests/engine/sdov/test_schedule.py recomputes 0.14.0's schedule and update rule from their formulas and compares.
"""
from __future__ import annotations

from typing import Any

from engine.errors import BadInputError

SCHEDULERS: tuple[str, ...] = ("dpm-solver", "dpm-solver-0.14")

# DPMSolverMultistepScheduler options that reproduce diffusers 0.14.0's schedule and updates.
SCHEDULE_0_14: dict[str, Any] = {
    "solver_order": 2,
    "algorithm_type": "dpmsolver++",
    "solver_type": "midpoint",
    "thresholding": False,
    "lower_order_final": True,  # 0.14: first order on the last step (second order on the one before) below 15 steps
    "euler_at_final": False,
    "final_sigmas_type": "sigma_min",  # 0.14: the last step ends at training timestep 0, not at sigma 0
    "timestep_spacing": "linspace",  # 0.14: linspace(0, T - 1, steps + 1).round()[::-1][:-1]
    "lambda_min_clipped": -float("inf"),
    "use_karras_sigmas": False,
    "use_exponential_sigmas": False,
    "use_beta_sigmas": False,
    "use_lu_lambdas": False,
    "use_flow_sigmas": False,
    "use_dynamic_shifting": False,
    "rescale_betas_zero_snr": False,
    "variance_type": None,
}


def check_scheduler(name: str) -> str:
    if name not in SCHEDULERS:
        raise BadInputError(f"unknown scheduler; choose one of {', '.join(SCHEDULERS)}", item="support.scheduler")
    return name


def configured_scheduler(scheduler: Any, name: str) -> Any:
    """The scheduler ``support.scheduler = name`` samples with, built from the pipeline's ``scheduler`` (its
    config holds the model's beta schedule): the pipeline's own for ``dpm-solver``, a new one for
    ``dpm-solver-0.14``. The pipeline's scheduler is never changed."""
    check_scheduler(name)
    if name == "dpm-solver":
        return scheduler
    from diffusers import DPMSolverMultistepScheduler

    return DPMSolverMultistepScheduler.from_config(scheduler.config, **SCHEDULE_0_14)
