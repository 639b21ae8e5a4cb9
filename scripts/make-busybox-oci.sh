#!/usr/bin/env bash
# Make an OCI image layout holding a small busybox image, from Debian's busybox-static, offline
# except for Debian's archive (only when the package is not installed).
#
#   scripts/make-busybox-oci.sh <layout-dir> [tag]      (tag defaults to "busybox")
#
# The static binary comes from $BUSYBOX if set, else /bin/busybox when the installed
# busybox-static package owns it (unless $MAKE_BUSYBOX_DOWNLOAD is set), else `apt-get download busybox-static` + `dpkg -x`.
# The rootfs holds bin/busybox, one relative symlink per applet at the place `busybox --list-full`
# names (bin/sh -> busybox, usr/bin/env -> ../../bin/busybox, ...), minimal etc/passwd and etc/group,
# /tmp (1777), /root (0700) and empty /dev, /proc, /sys. Packing is deterministic
# (scripts/oci-from-rootfs.sh): the same busybox binary always gives the same manifest digest.
# Prints the manifest digest.
set -euo pipefail

[ $# -ge 1 ] && [ $# -le 2 ] || { echo "usage: $0 <layout-dir> [tag]" >&2; exit 2; }
layout=$1
tag=${2:-busybox}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/make-busybox-oci.XXXXXX")
trap 'rm -rf "$work"' EXIT

find_busybox() {
  if [ -n "${BUSYBOX:-}" ]; then echo "$BUSYBOX"; return; fi
  if [ -z "${MAKE_BUSYBOX_DOWNLOAD:-}" ] && [ -x /bin/busybox ] && dpkg-query -S /bin/busybox 2>/dev/null | grep -q '^busybox-static:'; then
    echo /bin/busybox; return
  fi
  # Not installed: fetch the package from Debian's archive (the only network this needs).
  (cd "$work" && apt-get download -q -o APT::Sandbox::User=root busybox-static >&2)
  local deb
  deb=$(ls "$work"/busybox-static_*.deb 2>/dev/null | head -n1)
  [ -n "$deb" ] || { echo "$0: apt-get download busybox-static produced no .deb" >&2; exit 1; }
  mkdir -p "$work/pkg"
  dpkg -x "$deb" "$work/pkg"
  [ -x "$work/pkg/bin/busybox" ] || { echo "$0: $deb holds no bin/busybox" >&2; exit 1; }
  echo "$work/pkg/bin/busybox"
}
busybox=$(find_busybox)

root="$work/rootfs"
mkdir -p "$root"
for d in bin sbin usr usr/bin usr/sbin etc dev proc sys root tmp var; do mkdir -p "$root/$d"; done
install -m 0755 "$busybox" "$root/bin/busybox"

# The equivalent of `busybox --install -s`, with relative links so the tree works anywhere.
while IFS= read -r applet; do
  case "$applet" in
    */*) ;;              # "linuxrc" has no directory: skip it
    *) continue ;;
  esac
  [ "$applet" = bin/busybox ] && continue
  dir=${applet%/*}
  if [ "$dir" = bin ]; then
    target=busybox
  else
    slashes=${dir//[!\/]/}
    target=..; for ((i = 0; i < ${#slashes}; i++)); do target=$target/..; done
    target=$target/bin/busybox
  fi
  [ -e "$root/$applet" ] || [ -L "$root/$applet" ] || ln -s "$target" "$root/$applet"
done < <("$root/bin/busybox" --list-full | LC_ALL=C sort)
[ -L "$root/bin/sh" ] || { echo "$0: busybox has no sh applet" >&2; exit 1; }

printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' > "$root/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' > "$root/etc/group"
printf '%s\n' '127.0.0.1 localhost' '::1 localhost' > "$root/etc/hosts"
chmod 0644 "$root/etc/passwd" "$root/etc/group" "$root/etc/hosts"
find "$root" -type d -exec chmod 0755 {} +
chmod 1777 "$root/tmp"
chmod 0700 "$root/root"

version=$("$root/bin/busybox" 2>&1 | sed -n '1{s/["\\]//g;p;q}') || true
"$here/oci-from-rootfs.sh" --cmd /bin/sh --created-by "${version:-busybox}" \
  "$root" "$layout" "$tag"
