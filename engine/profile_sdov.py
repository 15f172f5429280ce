"""The ``sdov`` profile: the authors' code (karazijal/sdov, commit 218566b) wherever it differs from the paper's text.

``paper`` follows the paper; the published figures (VOC-21 67.1, Context-60 30.1, COCO-Object 34.8) came from
this code. Every override names the file and line it comes from; docs/SDOV_PROFILE.md is the same list as a
table. What the code does and the engine cannot match exactly (CUDA random streams, unseeded noise for target
crops, fp16 CLIP in the pre-filter, sklearn k-means) is listed there too.
"""
from __future__ import annotations

import dataclasses

from engine.config import CODE_NEGATIVE_PROMPT, OVDiffConfig


def sdov_config() -> OVDiffConfig:
    """The paper's configuration with the authors' code's values where the two differ."""
    base = OVDiffConfig()
    support = dataclasses.replace(
        base.support,
        prompt_template="A good picture of a {}",  # sample_support_set.py:154
        negative_prompt=CODE_NEGATIVE_PROMPT,  # sample_support_set.py:29,166
        n_images=32,  # sample_support_set.py:49 (--n 32)
        attribution_token_order="upsample-then-mean",  # sd.py:191-193 per token, :204 mean over tokens
        attribution_final_mode="bilinear",  # sample_support_set.py:199
        scheduler="dpm-solver-0.14",  # conda_environment.yml diffusers==0.14.0; sd.py:1202 DPMSolverMultistepScheduler
    )
    masks = dataclasses.replace(
        base.masks,
        proposer="cutler",  # sample_support_set.py:109,227 (utils/cutler.py CUTLER_Processor)
        cutler_confidence=0.35,  # utils/cutler.py:37
        # if MaskCut stands in for CutLER (no detectron2): CutLER's own MaskCut rules (CutLER maskcut/maskcut.py)
        maskcut_area_rule_first=False,  # maskcut.py:136-138 (area rule only for i >= 1)
        maskcut_resample="lanczos",  # maskcut.py:164
        zero_score_pixels="top",  # sample_support_set.py:249 (argmax of mask * weight: all-zero pixels to rank 0)
    )
    features = dataclasses.replace(
        base.features,
        sd_include_mid_block=True,  # gen_proto_sd.py:39 "--layers 0,6:13,15" (sd.py:1208 LAYERS[6] = mid block)
        sd_latent="sample",  # sd.py:819 latent_dist.sample(generator)
        sd_noise_seed=43,  # gen_proto_sd.py:55,247-256 (one generator seeded 43 per image, re-seeded for noise)
        # fp16 SD on CUDA (sd.py:1194 torch_dtype=torch.float16) is runtime.generator_dtype=auto for every profile
        clip_support_native=True,  # gen_vit_features.py:84,139 (PatchResize keeps 512 -> 32x32 patches)
        dino_max_side=800,  # predict.py:176-188 (TF.resize(img, 448, max_size=800) for inputs over 448)
        dino_fit="crop",  # predict.py:165-167 (the stride-8 patch conv drops the remainder: fW = w // 8)
        resize_antialias=False,  # predict.py:136-140,179-190 (torchvision 0.13 TF.resize on tensors: no antialias)
    )
    segment = dataclasses.replace(
        base.segment,
        short_side_rounding="floor",  # predict.py:37-40 TF.resize(img, 448): torchvision truncates the long side
        stuff_filter_min_prototypes=2,  # protos.py:82-84 (filter_proto_bg2allfg returns a single bg prototype as is)
        prefilter_image_prep="code",  # predict.py:40-41, mmdata.py:79-81, utils/clip_class.py:29
        prefilter_clip_dtype="float16",  # utils/clip_class.py:24 clip.load(key, device=cuda): fp16 weights on a GPU
        thing_stuff_table="paper_chatgpt",  # mmdata.py:145-321 IS_STUFF, used at predict.py:306,529
        class_prompts="sdov",  # mmdata.py CLASS_TO_PROMPT_OVERLAY (get_dataset, apply_overlay at predict.py:274)
    )
    return base.replace(support=support, masks=masks, features=features, segment=segment)
