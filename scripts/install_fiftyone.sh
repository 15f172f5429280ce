#!/usr/bin/env bash
# FiftyOne for the export test, in its own virtual environment (its pins clash with ovdiff's: opencv<5). The test
# finds its Python through OVDIFF_FIFTYONE_PYTHON (default: .venv-fo/bin/python). FiftyOne's database is never
# started: the test uses its importer classes only (fiftyone.utils.data.ImageSegmentationDirectoryImporter).
# Usage: scripts/install_fiftyone.sh [venv dir]   (default: $OVDIFF_FIFTYONE_VENV or .venv-fo)
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${OVDIFF_FIFTYONE_VERSION:-1.22.1}"
VENV="${1:-${OVDIFF_FIFTYONE_VENV:-.venv-fo}}"
PYTHON="${PYTHON:-python3}"

if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.fiftyone-version" 2>/dev/null)" = "$VERSION" ]; then
  echo "fiftyone $VERSION already in $VENV"
  exit 0
fi
"$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q -U pip
"$VENV/bin/pip" install -q "fiftyone==$VERSION"
echo "$VERSION" > "$VENV/.fiftyone-version"
echo "fiftyone $VERSION installed in $VENV ($VENV/bin/python)"
