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
      dnsmasq-base socat iperf3 wireguard-go wireguard-tools iputils-ping
      debian-archive-keyring erofs-utils
      libclamav-dev clamav clamav-testfiles
      python3-dissononce libsqlite3-dev
      libwlroots-dev libwayland-dev wayland-protocols libxkbcommon-dev
      libpixman-1-dev wl-clipboard grim wtype sway libnotify-bin dbus-daemon
      libopus-dev libpq-dev postgresql-15 libnats-dev nats-server
      libasound2-dev openssl python3-cryptography
      patroni etcd-server curl busybox)
# installed without their Recommends: wireguard-tools recommends
# "wireguard-modules", which only kernel images provide (apt would pull a
# kernel and rebuild an initramfs); the tests need only wg(8). flatpak (a
# bench anchor) recommends portals and a desktop stack it does not use here.
# The shell's build and test tools (issue 14) likewise: sway (the bench's
# anchor) recommends a desktop's worth (swaybg, foot, xwayland...), the
# wlroots headers a GPU stack; the headless tests need none of it.
# busybox: test_exec_hash.sh builds a persona base from /usr/bin/busybox
# (a fresh Debian 12 need not have it: CI failed without it).
# patroni and etcd-server: test_patroni.sh's cluster (Patroni 3.0 on etcd
# 3.4 through its etcd3: gRPC gateway, with urllib3, a patroni Depends;
# apt also brings python3-etcd for the v2 API, unused); curl asks
# Patroni's REST API who leads. On a host run by systemd the package's
# own etcd.service starts on localhost:2379 (patroni.service needs a
# config first); the test uses neither: it runs its own, as nobody, on
# random ports of its own network namespace.
NORECS=(wireguard-tools flatpak libwlroots-dev libwayland-dev wayland-protocols
	libxkbcommon-dev libpixman-1-dev wl-clipboard grim wtype sway libnotify-bin)
if [ "${1:-}" = "--bench" ]; then
	PKGS+=(bubblewrap firejail hyperfine gocryptfs fuse3 flatpak)
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
	norec=() rec=()
	for p in "${missing[@]}"; do
		case " ${NORECS[*]} " in
		*" $p "*) norec+=("$p") ;;
		*) rec+=("$p") ;;
		esac
	done
	if [ ${#norec[@]} -gt 0 ]; then
		apt-get install -y -qq --no-install-recommends "${norec[@]}" >/dev/null
	fi
	if [ ${#rec[@]} -gt 0 ]; then
		apt-get install -y -qq "${rec[@]}" >/dev/null
	fi
fi
