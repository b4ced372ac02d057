#!/usr/bin/env bash
# Installs the Debian packages the offline speech recognizer needs (idempotent).
# pocketsphinx (CLI + libpocketsphinx), pocketsphinx-en-us (acoustic model, LM, cmudict),
# python3-pocketsphinx (keeps a decoder loaded; importable by /usr/bin/python3 only).
set -euo pipefail

PACKAGES=(pocketsphinx pocketsphinx-en-us python3-pocketsphinx)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "speech deps: all installed (${PACKAGES[*]})"
else
  if [ "$(id -u)" -eq 0 ]; then
    SUDO=()
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo)
  else
    echo "speech deps: missing ${missing[*]}; run as root:" >&2
    echo "  sudo apt-get update && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  # Update the package lists only if the install cannot find the packages with the current lists.
  if ! "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"; then
    "${SUDO[@]}" apt-get update
    "${SUDO[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
  fi
fi

# Check that the Python module is importable by the Debian interpreter (pyenv's python3 cannot see it).
if ! /usr/bin/python3 -c 'import pocketsphinx' 2>/dev/null; then
  echo "speech deps: /usr/bin/python3 cannot import pocketsphinx" >&2
  exit 1
fi
echo "speech deps: ok ($(/usr/bin/python3 -c 'import pocketsphinx,os;print(os.path.dirname(pocketsphinx.__file__))'))"
