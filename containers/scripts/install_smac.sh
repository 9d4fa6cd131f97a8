#!/usr/bin/env bash
# StarCraft II (Linux headless build), the SMAC maps and oxwhirl SMAC for the `smac` image.
# Dockerfile RUN and Apptainer %post call this same script. Inputs (environment):
#   SC2PATH, SC2_VERSION (e.g. 4.10), SC2_BUILD (e.g. 75689: must match Versions/Base<build> in the archive),
#   SC2_SHA256 (optional: verify the archive), SC2_URL (optional: default Blizzard's Linux package for SC2_VERSION),
#   SMAC_COMMIT, SMAC_MAPS_URL, PYSC2_VERSION, S2CLIENTPROTOCOL_VERSION, PROTOBUF_VERSION, PIP_EXTRA_ARGS (optional).
# Building this image means accepting Blizzard's AI and Machine Learning License: the archive password
# below is that license's public acceptance phrase, not a secret.
set -euo pipefail
[ "${PIP_EXTRA_ARGS:-}" != none ] || PIP_EXTRA_ARGS=""  # `none`: the .def files' spelling of "not set"
: "${SC2PATH:?}" "${SC2_VERSION:?}" "${SC2_BUILD:?}" "${SMAC_COMMIT:?}" "${SMAC_MAPS_URL:?}"
: "${PYSC2_VERSION:?}" "${S2CLIENTPROTOCOL_VERSION:?}" "${PROTOBUF_VERSION:?}"
[ "${SC2_SHA256:-}" != none ] || SC2_SHA256=""
SC2_URL="${SC2_URL:-https://blzdistsc2-a.akamaihd.net/Linux/SC2.${SC2_VERSION}.zip}"
SC2_EULA_PASSWORD="iagreetotheeula"

apt-get update
apt-get install -y --no-install-recommends ca-certificates curl unzip git
rm -rf /var/lib/apt/lists/*

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "install_smac: downloading $SC2_URL"
curl -fSL --retry 3 -o "$tmp/sc2.zip" "$SC2_URL"
actual_sha=$(sha256sum "$tmp/sc2.zip" | cut -d' ' -f1)
echo "install_smac: SC2 archive sha256 $actual_sha"
if [ -n "${SC2_SHA256:-}" ] && [ "$actual_sha" != "$SC2_SHA256" ]; then
  echo "install_smac: SC2 archive sha256 $actual_sha != expected SC2_SHA256 $SC2_SHA256" >&2; exit 1
fi
parent=$(dirname "$SC2PATH")
mkdir -p "$parent"
unzip -q -P "$SC2_EULA_PASSWORD" "$tmp/sc2.zip" -d "$tmp/unpacked"
rm "$tmp/sc2.zip"
[ -d "$tmp/unpacked/StarCraftII" ] || { echo "install_smac: archive has no StarCraftII/ folder" >&2; exit 1; }
rm -rf "$SC2PATH"
mv "$tmp/unpacked/StarCraftII" "$SC2PATH"
binary="$SC2PATH/Versions/Base${SC2_BUILD}/SC2_x64"
if [ ! -x "$binary" ]; then
  echo "install_smac: $binary missing; builds in the archive: $(ls "$SC2PATH/Versions")" >&2; exit 1
fi
printf '%s  SC2.%s.zip\n' "$actual_sha" "$SC2_VERSION" >"$SC2PATH/.marie-sc2-archive.sha256"

echo "install_smac: downloading $SMAC_MAPS_URL"
curl -fSL --retry 3 -o "$tmp/maps.zip" "$SMAC_MAPS_URL"
unzip -q "$tmp/maps.zip" -d "$tmp/maps"
# The archive's folder layout has differed between releases; collect the map files wherever they are.
mkdir -p "$SC2PATH/Maps/SMAC_Maps"
find "$tmp/maps" -name '*.SC2Map' -exec mv -t "$SC2PATH/Maps/SMAC_Maps/" {} +
[ -f "$SC2PATH/Maps/SMAC_Maps/3m.SC2Map" ] || { echo "install_smac: 3m.SC2Map not in $SMAC_MAPS_URL" >&2; exit 1; }
chmod -R a+rX "$SC2PATH"

# pysc2's generated protobuf modules need protobuf 3.x ("Descriptors cannot be created directly" with 4.x).
# shellcheck disable=SC2086
/opt/venv/bin/pip install ${PIP_EXTRA_ARGS:-} \
  "pysc2==${PYSC2_VERSION}" "s2clientprotocol==${S2CLIENTPROTOCOL_VERSION}" "protobuf==${PROTOBUF_VERSION}" \
  "smac @ git+https://github.com/oxwhirl/smac.git@${SMAC_COMMIT}"
/opt/venv/bin/python -c 'import smac.env, pysc2.run_configs; print("install_smac: smac + pysc2 import")'
