#!/usr/bin/env bash
# Set up a Debian machine (12 or later) to build with stacker and to build the example offline:
#
#   sudo scripts/setup.sh
#
# 1. apt-get installs the runtime tools (uidmap for newuidmap/newgidmap, bubblewrap, util-linux's
#    unshare) and the ones the example and README use (skopeo, umoci, busybox-static, jq, attr),
#    plus what the native addon builds with (python3, make, g++).
# 2. Checks Node.js >= 20 (installs Debian's nodejs if that is new enough, else says what to do).
# 3. Gives the invoking user (the one behind sudo) a subuid/subgid range of 65536 if it has none.
# 4. npm ci && npm run build, as that user.
# 5. Makes examples/base/oci (tag busybox) with scripts/make-busybox-oci.sh, as that user.
# Safe to run again. Test-only tools (docker-registry, debootstrap) are installed by .ci/run.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"

if [ "$(id -u)" != 0 ]; then
  echo "setup.sh installs packages: run it as root, e.g. 'sudo scripts/setup.sh'" >&2
  exit 1
fi

# The user who will build: the one who ran sudo, else root itself.
user=${SUDO_USER:-root}
if [ "$user" != root ] && ! getent passwd "$user" >/dev/null; then user=root; fi
home=$(getent passwd "$user" | cut -d: -f6)

echo "==> apt packages"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
  uidmap bubblewrap util-linux skopeo umoci busybox-static jq attr \
  ca-certificates tar gzip python3 make g++

echo "==> Node.js"
node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if [ "$(node_major)" -lt 20 ]; then
  candidate=$(apt-cache policy nodejs | sed -n 's/^ *Candidate: *\([0-9:]*\)\([0-9][0-9]*\)\..*/\2/p' | head -n1)
  if [ -n "$candidate" ] && [ "$candidate" -ge 20 ]; then
    apt-get install -y -q --no-install-recommends nodejs npm
  else
    echo "stacker needs Node.js 20 or later (found: $(node --version 2>/dev/null || echo none))." >&2
    echo "Debian's nodejs here is too old: install Node.js 20 (e.g. from nodejs.org or NodeSource) and run this again." >&2
    exit 1
  fi
fi
echo "node $(node --version), npm $(npm --version)"

if [ "$user" != root ]; then
  echo "==> subordinate ids for $user"
  uid=$(id -u "$user")
  touch /etc/subuid /etc/subgid
  has_range() { awk -F: -v u="$user" -v id="$uid" '($1 == u || $1 == id) && $3 >= 65536 { found = 1 } END { exit !found }' "$1"; }
  if has_range /etc/subuid && has_range /etc/subgid; then
    echo "$user already has subuid/subgid ranges"
  else
    # A start above every existing range, on a 65536 boundary, free in both files.
    top=$(cat /etc/subuid /etc/subgid | awk -F: 'BEGIN { m = 100000 } NF >= 3 && $2 + $3 > m { m = $2 + $3 } END { print m }')
    start=$(( (top + 65535) / 65536 * 65536 ))
    has_range /etc/subuid || echo "$user:$start:65536" >> /etc/subuid
    has_range /etc/subgid || echo "$user:$start:65536" >> /etc/subgid
    echo "gave $user the ids $start..$((start + 65535))"
  fi
fi

# node-gyp downloads Node's headers unless told where they are: use the installed ones if present.
prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
if [ -f "$prefix/include/node/node.h" ] && [ -z "${npm_config_nodedir:-}" ]; then
  export npm_config_nodedir=$prefix
fi
as_user() {
  if [ "$user" = root ]; then "$@"; else
    runuser -u "$user" -- env HOME="$home" PATH="$PATH" ${npm_config_nodedir:+npm_config_nodedir="$npm_config_nodedir"} "$@"
  fi
}

echo "==> npm ci && npm run build (as $user)"
as_user npm ci --no-audit --no-fund
as_user npm run build

echo "==> examples/base/oci (busybox)"
tmp="examples/base/.oci.tmp"
as_user rm -rf "$tmp"
as_user mkdir -p examples/base
as_user scripts/make-busybox-oci.sh "$tmp" busybox
as_user rm -rf examples/base/oci
as_user mv "$tmp" examples/base/oci
skopeo inspect --format '{{.Digest}} {{.Os}}/{{.Architecture}}' oci:examples/base/oci:busybox

cat <<EOF

Set up. Build the example as $user:
  cd examples/hello && node ../../bin/stacker.js build
EOF
