#!/usr/bin/env bash
# Install what twofold needs on Debian 12 (idempotent; skipped when all is
# present, so repeated runs do not touch the network).
set -euo pipefail
PKGS=(gcc clang pkg-config meson ninja-build python3
      libsodium-dev libgcrypt20-dev libssl-dev libseccomp-dev libcap-dev
      libcmocka-dev libtss2-dev swtpm swtpm-tools
      e2fsprogs util-linux procps iproute2 psmisc
      clang-format libclang-rt-14-dev musl-tools
      libsystemd-dev go-md2man man-db zsh debhelper dpkg-dev debootstrap
      libmnl-dev
      libnftables-dev
      nftables
      dnsmasq-base
      libclamav-dev clamav clamav-testfiles)
if [ "${1:-}" = "--bench" ]; then
	PKGS+=(bubblewrap firejail hyperfine gocryptfs fuse3)
fi
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "twofold: need root to install: ${missing[*]}" >&2
		exit 1
	fi
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq "${missing[@]}" >/dev/null
fi
