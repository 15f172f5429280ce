"""``support.scheduler``: under ``sdov`` the sampler's timesteps, sigmas and updates are those of diffusers 0.14.0.

The reference is computed here from the published formulas, sharing no code with diffusers or engine/: Stable
Diffusion v1.5's DDPM ``scaled_linear`` betas (its ``scheduler_config.json``), their cumulative alphas, the sigma
of a timestep sqrt((1 - alphas_cumprod[t]) / alphas_cumprod[t]), diffusers 0.14.0's
``DPMSolverMultistepScheduler.set_timesteps`` (``linspace(0, 999, n + 1)``, rounded, reversed, last entry dropped),
and its ``step``: DPM-Solver++ (data prediction), second-order midpoint multistep, first order on the first step,
the last step to training timestep 0 (``prev_timestep = 0``), first order on the last step only below 15 steps.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from diffusers import DPMSolverMultistepScheduler, PNDMScheduler

from engine.errors import BadInputError
from engine.profiles import default_config
from engine.support.schedule import configured_scheduler

# stable-diffusion-v1-5/stable-diffusion-v1-5 scheduler/scheduler_config.json
SD15_SCHEDULER_CONFIG = {"beta_end": 0.012, "beta_schedule": "scaled_linear", "beta_start": 0.00085,
                         "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True,
                         "steps_offset": 1, "trained_betas": None, "clip_sample": False}
T = 1000
BETAS = np.linspace(0.00085 ** 0.5, 0.012 ** 0.5, T, dtype=np.float64) ** 2
ALPHAS_CUMPROD = np.cumprod(1.0 - BETAS)
ALPHA = np.sqrt(ALPHAS_CUMPROD)
SIGMA_VP = np.sqrt(1.0 - ALPHAS_CUMPROD)
LAMBDA = np.log(ALPHA) - np.log(SIGMA_VP)


def timesteps_0_14(n: int) -> np.ndarray:
    return np.linspace(0, T - 1, n + 1).round()[::-1][:-1].astype(np.int64)


def sigma(t: np.ndarray | int) -> np.ndarray:
    return np.sqrt((1.0 - ALPHAS_CUMPROD[t]) / ALPHAS_CUMPROD[t])


def sample_0_14(x: np.ndarray, eps, n: int) -> np.ndarray:
    """diffusers 0.14.0's DPM-Solver++(2M) from ``x`` at the first timestep down to timestep 0."""
    ts = timesteps_0_14(n)
    outputs: list[np.ndarray] = []
    for i, t in enumerate(ts):
        last = i == n - 1
        prev = 0 if last else ts[i + 1]
        x0 = (x - SIGMA_VP[t] * eps(x, t)) / ALPHA[t]
        outputs = (outputs + [x0])[-2:]
        h = LAMBDA[prev] - LAMBDA[t]
        if len(outputs) < 2 or (last and n < 15):
            x = (SIGMA_VP[prev] / SIGMA_VP[t]) * x - ALPHA[prev] * np.expm1(-h) * x0
        else:
            r0 = (LAMBDA[t] - LAMBDA[ts[i - 1]]) / h
            d1 = (outputs[1] - outputs[0]) / r0
            x = (SIGMA_VP[prev] / SIGMA_VP[t]) * x - ALPHA[prev] * np.expm1(-h) * x0 \
                - 0.5 * ALPHA[prev] * np.expm1(-h) * d1
    return x


def eps_model(x, t):
    """A smooth stand-in for the UNet's noise prediction (the schedule has no weights to test with)."""
    return 0.8 * x + 0.05 * np.sin(3.0 * x) + 1e-4 * float(t)


def engine_scheduler(profile: str) -> DPMSolverMultistepScheduler:
    """What ``sample_support_images`` samples with: the loader's scheduler (engine.models.loading), configured."""
    pipe_scheduler = DPMSolverMultistepScheduler.from_config(PNDMScheduler.from_config(SD15_SCHEDULER_CONFIG).config)
    return configured_scheduler(pipe_scheduler, default_config(profile).support.scheduler)


def run(scheduler: DPMSolverMultistepScheduler, x: np.ndarray, n: int) -> np.ndarray:
    scheduler.set_timesteps(n)
    sample = torch.from_numpy(x.astype(np.float32))
    for t in scheduler.timesteps:
        eps = torch.from_numpy(eps_model(sample.numpy().astype(np.float64), int(t)).astype(np.float32))
        sample = scheduler.step(eps, t, sample).prev_sample
    return sample.numpy().astype(np.float64)


@pytest.mark.parametrize("n", [30, 10])  # 30: sdov; 10: the tiny profile (first-order last step in 0.14 too)
def test_sdov_timesteps_and_sigmas_are_those_of_diffusers_0_14(n):
    scheduler = engine_scheduler("sdov")
    scheduler.set_timesteps(n)
    expected_t = timesteps_0_14(n)
    np.testing.assert_array_equal(scheduler.timesteps.numpy(), expected_t)
    expected_sigmas = np.concatenate([sigma(expected_t), [sigma(0)]])  # the last step ends at timestep 0
    got = scheduler.sigmas.numpy().astype(np.float64)
    assert got.shape == expected_sigmas.shape == (n + 1,)
    np.testing.assert_allclose(got, expected_sigmas, rtol=2e-5, atol=0)  # float32 cumprod: measured 1.3e-5
    assert got[-1] == pytest.approx(0.0292, abs=1e-4)  # sigma of timestep 0, not 0


@pytest.mark.parametrize("n", [30, 10])
def test_sdov_updates_final_step_included_match_diffusers_0_14(n):
    x = np.random.default_rng(0).standard_normal((2, 4, 8, 8))
    expected = sample_0_14(x, eps_model, n)
    got = run(engine_scheduler("sdov"), x, n)
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-5)  # float32 vs float64: measured 2.2e-6
    paper = run(engine_scheduler("paper"), x, n)  # today's default: the last step goes to sigma 0 (first order)
    assert np.abs(paper - expected).max() > 1e-2  # measured 0.19 (30 steps), 0.12 (10 steps)


def test_paper_keeps_the_installed_diffusers_schedule():
    pipe_scheduler = DPMSolverMultistepScheduler.from_config(PNDMScheduler.from_config(SD15_SCHEDULER_CONFIG).config)
    assert configured_scheduler(pipe_scheduler, "dpm-solver") is pipe_scheduler
    pipe_scheduler.set_timesteps(30)
    np.testing.assert_array_equal(pipe_scheduler.timesteps.numpy(), timesteps_0_14(30))  # same timesteps ...
    assert float(pipe_scheduler.sigmas[-1]) == 0.0  # ... but the schedule ends at sigma 0
    with pytest.raises(BadInputError, match="support.scheduler"):
        configured_scheduler(pipe_scheduler, "ddim")


def test_sampling_uses_the_configured_scheduler_and_restores_the_pipelines(tiny_registry):
    from engine.support.sampling import sample_support_images

    pipe = tiny_registry.generator()
    before = pipe.scheduler
    seen = []

    def progress(stage, done, total):
        seen.append(pipe.scheduler.config.final_sigmas_type)

    cfg = dataclasses.replace(default_config("tiny").support, n_images=1, batch_size=1, scheduler="dpm-solver-0.14")
    sdov = sample_support_images(tiny_registry, "red car", cfg, progress=progress)
    assert set(seen) == {"sigma_min"} and pipe.scheduler is before
    paper = sample_support_images(tiny_registry, "red car", dataclasses.replace(cfg, scheduler="dpm-solver"))
    assert pipe.scheduler is before
    # 10 steps: both end with a first-order step, to sigma(0) and to 0: the images differ only slightly
    assert not np.array_equal(sdov[0].image, paper[0].image)
