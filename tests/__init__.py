"""The test suite as a regular package: a top-level ``tests`` package some wheels install (label-studio-converter
ships one) would otherwise shadow this namespace package and ``tests.ui`` would not import."""
