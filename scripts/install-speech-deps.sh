#!/usr/bin/env bash
# Installs the Debian packages the offline speech recognizer needs (idempotent).
# pocketsphinx (CLI + libpocketsphinx), pocketsphinx-en-us (acoustic model, LM, cmudict),
# python3-pocketsphinx (keeps a decoder loaded; importable by /usr/bin/python3 only).
set -euo pipefail

bash "$(dirname "$0")/apt-install.sh" pocketsphinx pocketsphinx-en-us python3-pocketsphinx

# Check that the Python module is importable by the Debian interpreter (pyenv's python3 cannot see it).
if ! /usr/bin/python3 -c 'import pocketsphinx' 2>/dev/null; then
  echo "speech deps: /usr/bin/python3 cannot import pocketsphinx" >&2
  exit 1
fi
echo "speech deps: ok ($(/usr/bin/python3 -c 'import pocketsphinx,os;print(os.path.dirname(pocketsphinx.__file__))'))"
