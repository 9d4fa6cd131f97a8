#!/usr/bin/env bash
# Installs optional dependency groups ("extras") of the marie package already copied to /opt/marie/src,
# e.g. `install_extras.sh smax,mpe,mamujoco`. The pins live in pyproject.toml; the installed set is
# checked for conflicts. Optional PIP_EXTRA_ARGS is passed to pip.
set -euo pipefail
[ "${PIP_EXTRA_ARGS:-}" != none ] || PIP_EXTRA_ARGS=""  # `none`: the .def files' spelling of "not set"
extras="${1:?usage: install_extras.sh EXTRA[,EXTRA...]}"
# shellcheck disable=SC2086
/opt/venv/bin/pip install ${PIP_EXTRA_ARGS:-} "/opt/marie/src[${extras}]"
rm -rf /opt/marie/src/build /opt/marie/src/*.egg-info
# Dependency conflicts fail the build, except lines matching PIP_CHECK_IGNORE (an ERE; for packages whose
# declared dependencies are replaced on purpose, e.g. gfootball's pygame and opencv-python).
if ! report=$(/opt/venv/bin/pip check 2>&1); then
  remaining=$(printf '%s\n' "$report" | grep -Ev "${PIP_CHECK_IGNORE:-^\$}" || true)
  if [ -n "$remaining" ]; then
    printf 'install_extras: pip check failed:\n%s\n' "$remaining" >&2
    exit 1
  fi
  printf 'install_extras: pip check, tolerated:\n%s\n' "$report"
fi
