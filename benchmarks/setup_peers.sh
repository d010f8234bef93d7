#!/usr/bin/env bash
# Create one venv per peer scanner, from the exact pins in benchmarks/requirements/<tool>.txt.
#
#   bash benchmarks/setup_peers.sh                 # all peers
#   bash benchmarks/setup_peers.sh picklescan      # just some
#
# Venvs go to $PEER_VENVS (default /work/peer-venvs), never into the project's venv: the
# peers' dependencies must not leak into torchvet's environment or each other's.
# A venv whose pins have not changed is kept (a stamp file holds the pins' hash).
# One peer failing to install does not stop the others; the script exits 1 at the end.
set -uo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
venvs="${PEER_VENVS:-/work/peer-venvs}"
python="${PYTHON:-python3}"
reqdir="$here/requirements"
if [ "$#" -gt 0 ]; then
  tools=("$@")
else
  tools=(picklescan modelscan fickling modelaudit modelaudit-torch)
fi

mkdir -p "$venvs"
failed=()
for tool in "${tools[@]}"; do
  req="$reqdir/$tool.txt"
  if [ ! -f "$req" ]; then
    echo "setup_peers: no pins for '$tool' ($req)" >&2
    failed+=("$tool")
    continue
  fi
  dest="$venvs/$tool"
  stamp="$(cat "$req" "$reqdir/constraints.txt" | sha256sum | cut -c1-16)"
  if [ -f "$dest/.pins-stamp" ] && [ "$(cat "$dest/.pins-stamp")" = "$stamp" ]; then
    echo "setup_peers: $tool up to date ($dest)"
    continue
  fi
  echo "setup_peers: installing $tool into $dest"
  rm -rf "$dest"
  # The constraint keeps torch at the CPU 2.13.0 wheel (on local disk) whatever asks for it.
  if "$python" -m venv "$dest" &&
    "$dest/bin/python" -m pip install -q --disable-pip-version-check \
      -r "$req" -c "$reqdir/constraints.txt" 2> >(grep -v "is ignored" >&2); then
    echo "$stamp" > "$dest/.pins-stamp"
  else
    echo "setup_peers: FAILED to install $tool" >&2
    failed+=("$tool")
  fi
done

if [ "${#failed[@]}" -gt 0 ]; then
  echo "setup_peers: failed: ${failed[*]} (the benchmark reports these as unavailable)" >&2
  exit 1
fi
echo "setup_peers: done"
