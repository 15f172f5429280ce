#!/bin/sh
# One-command GPU check (bench/gpu_check.py): paper-shape models on the first GPU, figures printed and written to
# bench/results/gpu_check.json. Extra arguments pass through, e.g. --device cuda:1, or drop --quick for N = 64.
set -e
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
exec "$PY" -m bench --device cuda --quick "$@"
