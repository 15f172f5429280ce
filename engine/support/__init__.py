"""Support sets (paper sec. 3.1): sampling images with Stable Diffusion, cross-attention attribution, support sets on disk."""
