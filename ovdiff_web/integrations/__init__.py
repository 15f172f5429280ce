"""Where teams label: ovdiff as a Label Studio ML backend (pre-annotations, corrections flowing back) and a
FiftyOne export of runs and prediction jobs. Everything this package needs from the core services is imported
in ``core_bridge`` (one place to follow when the core moves)."""
