#!/usr/bin/env bash
# Build, or reuse, a Debian systemd image for the Molecule lab and `make demo`.
#
#   tools/lab-images/build.sh bookworm|trixie     -> prints the image reference
#
# Rules:
# - Nothing is pulled from a registry (none is reachable): the root file system
#   comes from Debian's packages with debootstrap, then `podman import`.
# - The image is tagged with a hash of this script and the suite, so a rerun
#   with the same inputs reuses it (seconds) and a changed package list rebuilds.
# - The containers sit on an --internal network: they can never reach a
#   mirror, so everything the role would install is in the image already
#   (python3-pyroute2, keepalived, frr, python3-apt for ansible's apt module).
set -euo pipefail

suite=${1:?usage: build.sh bookworm|trixie}
case "$suite" in bookworm|trixie) ;; *) echo "build.sh: unknown suite '$suite' (bookworm|trixie)" >&2; exit 2;; esac
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=systemd,systemd-sysv,dbus,python3,python3-apt,python3-pyroute2,iproute2,iputils-ping,procps,keepalived,curl,ca-certificates,tcpdump,nftables,frr

for tool in podman debootstrap; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is missing: apt-get install podman runc debootstrap" >&2; exit 2; }
done

hash=$( { cat "$0"; echo "$suite $packages"; } | sha256sum | cut -c1-12)
image="localhost/linuxha-vrrp-lab:${suite}-${hash}"
if podman image exists "$image"; then
  echo "$image"
  exit 0
fi

work=$(mktemp -d /var/tmp/vrrp-lab-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
echo "build.sh: debootstrap $suite into $work (about a minute)" >&2
debootstrap --variant=minbase --include="$packages" "$suite" "$work/rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

root=$work/rootfs
# A container boots systemd with no console, login or udev to wait for.
: >"$root/etc/machine-id"
chroot "$root" systemctl mask getty@tty1.service serial-getty@.service console-getty.service \
  systemd-logind.service systemd-udevd.service systemd-udev-trigger.service >/dev/null 2>&1
chroot "$root" systemctl set-default multi-user.target >/dev/null 2>&1
# keepalived is installed for the interop scenarios, not started unless a play asks.
chroot "$root" systemctl disable keepalived.service >/dev/null 2>&1 || true
# frr is installed for the routed scenario (vrrp_announce bgp): the role enables it.
chroot "$root" systemctl disable frr.service >/dev/null 2>&1 || true
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*

echo "build.sh: podman import $image" >&2
tar -C "$root" -c . | podman import --change 'CMD ["/sbin/init"]' --change 'STOPSIGNAL=SIGRTMIN+3' - "$image" >/dev/null
echo "$image"
