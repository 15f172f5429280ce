"""Evaluation (paper sec. 4): dataset readers, confusion-matrix metrics, evaluating a split, scoring folders."""
