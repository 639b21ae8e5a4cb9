#!/usr/bin/env bash
# Pack a root filesystem directory as a one-layer OCI image into an OCI image layout.
#
#   scripts/oci-from-rootfs.sh [options] <rootfs-dir> <layout-dir> <tag>
#
# Options:
#   --keep-owners      keep the files' numeric uid/gid (default: every entry is 0:0)
#   --cmd PATH         the image's Cmd (default /bin/sh)
#   --exclude PATTERN  GNU tar exclude pattern, relative to the rootfs (repeatable), e.g. 'dev/*'
#   --created-by TEXT  the history entry's created_by
#
# The layer is a deterministic tar (sorted names, mtime 0, GNU format) compressed with `gzip -n`,
# and the config's `created` is the epoch, so the same rootfs gives the same digests every time.
# If <layout-dir> already is a layout, the tag is replaced (or added) and other tags are kept
# (this needs jq). Needs only coreutils, GNU tar and gzip otherwise.
set -euo pipefail

usage() { echo "usage: $0 [--keep-owners] [--cmd PATH] [--exclude PAT]... [--created-by TEXT] <rootfs> <layout> <tag>" >&2; exit 2; }

keep_owners=0
cmd=/bin/sh
created_by="scripts/oci-from-rootfs.sh"
excludes=()
while [ $# -gt 0 ]; do
  case "$1" in
    --keep-owners) keep_owners=1; shift ;;
    --cmd) [ $# -ge 2 ] || usage; cmd=$2; shift 2 ;;
    --exclude) [ $# -ge 2 ] || usage; excludes+=("--exclude=$2"); shift 2 ;;
    --created-by) [ $# -ge 2 ] || usage; created_by=$2; shift 2 ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
  esac
done
[ $# -eq 3 ] || usage
rootfs=$1 layout=$2 tag=$3

[ -d "$rootfs" ] || { echo "$0: rootfs $rootfs is not a directory" >&2; exit 1; }
# A tag is written into JSON unescaped: allow only the OCI ref-name characters that need no escaping.
if ! [[ "$tag" =~ ^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$ ]]; then
  echo "$0: invalid tag '$tag'" >&2; exit 1
fi
for s in "$cmd" "$created_by"; do
  case "$s" in *'"'*|*'\'*) echo "$0: quotes and backslashes are not allowed in '$s'" >&2; exit 1 ;; esac
done

# OCI architecture name of this machine.
oci_arch() {
  local a
  if command -v dpkg >/dev/null 2>&1; then a=$(dpkg --print-architecture); else a=$(uname -m); fi
  case "$a" in
    amd64|x86_64) echo amd64 ;;
    arm64|aarch64) echo arm64 ;;
    armhf|armel|armv7l|arm) echo arm ;;
    i386|i686|386) echo 386 ;;
    ppc64el|ppc64le) echo ppc64le ;;
    s390x) echo s390x ;;
    riscv64) echo riscv64 ;;
    *) echo "$a" ;;
  esac
}
arch=$(oci_arch)

mkdir -p "$layout/blobs/sha256"
work=$(mktemp -d "${TMPDIR:-/tmp}/oci-from-rootfs.XXXXXX")
trap 'rm -rf "$work"' EXIT

owner_flags=(--numeric-owner)
if [ "$keep_owners" = 0 ]; then owner_flags+=(--owner=0 --group=0); fi

# Top-level entries, in byte order, so names carry no "./" prefix.
mapfile -t entries < <(cd "$rootfs" && LC_ALL=C ls -A | LC_ALL=C sort)
[ "${#entries[@]}" -gt 0 ] || { echo "$0: rootfs $rootfs is empty" >&2; exit 1; }

LC_ALL=C tar --format=gnu --sort=name --mtime=@0 "${owner_flags[@]}" \
  --no-acls --no-xattrs --no-selinux "${excludes[@]}" \
  -C "$rootfs" -cf "$work/layer.tar" -- "${entries[@]}"
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -6 -c "$work/layer.tar" > "$work/layer.tar.gz"
rm -f "$work/layer.tar"
layer_digest=$(sha256sum "$work/layer.tar.gz" | cut -d' ' -f1)
layer_size=$(stat -c %s "$work/layer.tar.gz")

# put_blob FILE -> prints "<hex> <size>" after moving FILE into the layout's blobs.
put_blob() {
  local hex size
  hex=$(sha256sum "$1" | cut -d' ' -f1)
  size=$(stat -c %s "$1")
  if [ -f "$layout/blobs/sha256/$hex" ]; then rm -f "$1"; else mv "$1" "$layout/blobs/sha256/$hex"; fi
  chmod 0644 "$layout/blobs/sha256/$hex"
  echo "$hex $size"
}
put_blob "$work/layer.tar.gz" >/dev/null

printf '%s' \
'{"created":"1970-01-01T00:00:00Z","architecture":"'"$arch"'","os":"linux",'\
'"config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["'"$cmd"'"]},'\
'"rootfs":{"type":"layers","diff_ids":["sha256:'"$diff_id"'"]},'\
'"history":[{"created":"1970-01-01T00:00:00Z","created_by":"'"$created_by"'"}]}' > "$work/config.json"
read -r config_digest config_size < <(put_blob "$work/config.json")

printf '%s' \
'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",'\
'"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:'"$config_digest"'","size":'"$config_size"'},'\
'"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:'"$layer_digest"'","size":'"$layer_size"'}]}' > "$work/manifest.json"
read -r manifest_digest manifest_size < <(put_blob "$work/manifest.json")

entry='{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:'"$manifest_digest"'","size":'"$manifest_size"',"annotations":{"org.opencontainers.image.ref.name":"'"$tag"'"}}'
if [ -f "$layout/index.json" ]; then
  command -v jq >/dev/null 2>&1 || { echo "$0: $layout/index.json exists; merging a tag into it needs jq" >&2; exit 1; }
  jq -c --arg tag "$tag" --argjson entry "$entry" \
    '.manifests = ([.manifests[]? | select(.annotations["org.opencontainers.image.ref.name"] != $tag)] + [$entry])' \
    "$layout/index.json" > "$layout/.index.json.tmp"
else
  printf '%s' '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":['"$entry"']}' > "$layout/.index.json.tmp"
fi
printf '%s' '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
chmod 0644 "$layout/.index.json.tmp" "$layout/oci-layout"
mv "$layout/.index.json.tmp" "$layout/index.json"  # same directory: an atomic rename
chmod 0755 "$layout" "$layout/blobs" "$layout/blobs/sha256"

echo "sha256:$manifest_digest"
