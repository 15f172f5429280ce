#!/usr/bin/env bash
# Label Studio for the integration tests, in its own virtual environment (its pins clash with ovdiff's: Django,
# numpy, opencv). The tests find it through OVDIFF_LABEL_STUDIO_BIN (default: .venv-ls/bin/label-studio).
# Usage: scripts/install_label_studio.sh [venv dir]   (default: $OVDIFF_LABEL_STUDIO_VENV or .venv-ls)
# Then a migrated data directory (scripts/label_studio_template.py, in the venv) that each test's Label Studio starts
# from a copy of, so it skips the migrations. About 4 minutes and 1 GB on a fresh machine; a second call with the same
# version does nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION="${OVDIFF_LABEL_STUDIO_VERSION:-1.23.2}"
VENV="${1:-${OVDIFF_LABEL_STUDIO_VENV:-.venv-ls}}"
PYTHON="${PYTHON:-python3}"

if [ -x "$VENV/bin/label-studio" ] && [ "$(cat "$VENV/.label-studio-version" 2>/dev/null)" = "$VERSION" ]; then
  echo "label-studio $VERSION already in $VENV"
else
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q -U pip
  "$VENV/bin/pip" install -q "label-studio==$VERSION"
  echo "$VERSION" > "$VENV/.label-studio-version"
  echo "label-studio $VERSION installed in $VENV ($VENV/bin/label-studio)"
fi
echo "Label Studio test template: $("$VENV/bin/python" scripts/label_studio_template.py --root "${OVDIFF_LABEL_STUDIO_TEMPLATES:-$VENV}")"
