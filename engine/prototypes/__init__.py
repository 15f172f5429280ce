"""Prototype banks (paper sec. 3.2): class, instance and part prototypes; k-means for parts."""
