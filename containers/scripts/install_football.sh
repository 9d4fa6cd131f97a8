#!/usr/bin/env bash
# Google Research Football built from source, headless, for the `football` image.
# Dockerfile RUN and Apptainer %post call this same script. Inputs (environment):
#   GFOOTBALL_VERSION, GYM_VERSION, GFOOTBALL_RUNTIME_DEPS (pinned requirements gfootball imports),
#   PIP_EXTRA_ARGS (optional).
set -euo pipefail
[ "${PIP_EXTRA_ARGS:-}" != none ] || PIP_EXTRA_ARGS=""  # `none`: the .def files' spelling of "not set"
: "${GFOOTBALL_VERSION:?}" "${GYM_VERSION:?}" "${GFOOTBALL_RUNTIME_DEPS:?}"

# The engine's build and runtime libraries (SDL2, Boost.Python for Debian's Python 3.11, OpenGL/EGL).
apt-get update
apt-get install -y --no-install-recommends \
  build-essential cmake pkg-config python3-dev \
  libgl1-mesa-dev libegl1-mesa-dev \
  libsdl2-dev libsdl2-image-dev libsdl2-ttf-dev libsdl2-gfx-dev \
  libboost-thread-dev libboost-system-dev libboost-filesystem-dev libboost-python-dev
rm -rf /var/lib/apt/lists/*

# shellcheck disable=SC2086
/opt/venv/bin/pip install ${PIP_EXTRA_ARGS:-} wheel psutil setuptools $GFOOTBALL_RUNTIME_DEPS
# --no-deps: gfootball's declared `pygame` and unpinned gym would replace what the extra pins.
# shellcheck disable=SC2086
/opt/venv/bin/pip install ${PIP_EXTRA_ARGS:-} --no-deps --no-build-isolation "gfootball==${GFOOTBALL_VERSION}"
# gfootball declares pygame and opencv-python; the image has opencv-python-headless and needs no pygame.
PIP_CHECK_IGNORE='^gfootball [0-9.]+ requires (pygame|opencv-python)\b' /opt/marie/scripts/install_extras.sh football
/opt/venv/bin/python -c "import gym; assert gym.__version__ == '${GYM_VERSION}', gym.__version__"
/opt/venv/bin/python -c 'import gfootball.env; print("install_football: gfootball imports")'
