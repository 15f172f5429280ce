"""Stand-in for detectron2 (not installable here): only the configuration API CutLER's config needs.

Its defaults are detectron2's own (``detectron2/config/defaults.py``) for every key CutLER's yaml or the
authors' overrides touch, so a key the real package lacks is missing here too.
"""
