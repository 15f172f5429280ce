"""Segmentation (paper sec. 3.3): windows, prototype matching, CLIP pre-filter, stuff filter, PAMR, explanations."""
