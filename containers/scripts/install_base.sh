#!/usr/bin/env bash
# Shared base for every marie image (Dockerfile RUN and Apptainer %post call this same script).
#   install_base.sh system   Debian's Python 3.11 in /opt/venv, torch (cpu|cuda), the non-root user `marie`
#   install_base.sh marie    the marie package from /opt/marie/src (the checkout copied into the image)
# Inputs (environment): TORCH_VARIANT (cpu|cuda), TORCH_VERSION, optional TORCH_INDEX_URL, PIP_EXTRA_ARGS,
# EXTRA_CA_CERT (base64 PEM, for builds behind a TLS-intercepting proxy; empty on normal machines).
set -euo pipefail

VENV=/opt/venv
# Apptainer's %arguments cannot hold empty defaults, so the .def files say `none` for "not set".
for var in TORCH_INDEX_URL PIP_EXTRA_ARGS EXTRA_CA_CERT; do
  if [ "${!var:-}" = none ]; then export "$var="; fi
done
PIP_EXTRA_ARGS="${PIP_EXTRA_ARGS:-}"

apt_install() {
  apt-get update
  apt-get install -y --no-install-recommends "$@"
  rm -rf /var/lib/apt/lists/*
}

# Adds the build host's extra CA to the system store; pip is pointed at that store (PIP_CERT in the image).
trust_extra_ca() {
  [ -n "${EXTRA_CA_CERT:-}" ] || return 0
  printf '%s' "$EXTRA_CA_CERT" | base64 -d >/usr/local/share/ca-certificates/marie-build-extra.crt
  update-ca-certificates >/dev/null
  echo "install_base: added the build host's extra CA certificates"
}

torch_index_args() {
  case "$TORCH_VARIANT" in
    cpu) echo "--index-url ${TORCH_INDEX_URL:-https://download.pytorch.org/whl/cpu}" ;;
    cuda) [ -z "${TORCH_INDEX_URL:-}" ] || echo "--index-url $TORCH_INDEX_URL" ;;  # PyPI's Linux wheel is the CUDA build
    *) echo "install_base: TORCH_VARIANT='$TORCH_VARIANT' is not valid; choose cpu or cuda" >&2; return 2 ;;
  esac
}

install_system() {
  : "${TORCH_VARIANT:?TORCH_VARIANT must be set (cpu or cuda)}" "${TORCH_VERSION:?TORCH_VERSION must be set}"
  local index_args
  index_args=$(torch_index_args)
  apt_install ca-certificates python3 python3-venv
  trust_extra_ca
  python3 -c 'import sys; assert sys.version_info[:2] == (3, 11), sys.version' \
    || { echo "install_base: the base OS must provide Python 3.11 (Debian bookworm does)" >&2; exit 1; }
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086  # both variables hold option lists
  "$VENV/bin/pip" install $index_args $PIP_EXTRA_ARGS "torch==${TORCH_VERSION}"
  "$VENV/bin/python" -W ignore::UserWarning - "$TORCH_VARIANT" <<'PY'
import sys
import torch
want = sys.argv[1]
has_cuda = torch.version.cuda is not None
if has_cuda != (want == "cuda"):
    sys.exit(f"install_base: TORCH_VARIANT={want} but torch {torch.__version__} has CUDA={torch.version.cuda}")
print(f"install_base: torch {torch.__version__} (CUDA {torch.version.cuda})")
PY
  useradd --create-home --uid 1000 --shell /bin/bash marie
}

install_marie() {
  [ -f /opt/marie/src/pyproject.toml ] || { echo "install_base: /opt/marie/src/pyproject.toml missing" >&2; exit 1; }
  # shellcheck disable=SC2086
  "$VENV/bin/pip" install $PIP_EXTRA_ARGS /opt/marie/src
  rm -rf /opt/marie/src/build /opt/marie/src/*.egg-info
  "$VENV/bin/python" -c 'import marie; print("install_base: marie installed from", marie.__file__)'
}

case "${1:-}" in
  system) install_system ;;
  marie) install_marie ;;
  *) echo "usage: install_base.sh {system|marie}" >&2; exit 2 ;;
esac
