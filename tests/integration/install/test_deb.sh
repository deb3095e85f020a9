#!/usr/bin/env bash
# Integration (CI): the Debian package. Builds the .deb from a copy of
# this tree (dpkg-buildpackage -us -uc -b), makes a throwaway Debian 12
# root (debootstrap --variant=minbase, from the mirror this host's apt
# uses), installs the package there with its dependencies (apt-get
# install ./twofold.deb), runs `twofold --version` and `twofold selftest`
# in it (as root, and as nobody, whose PATH has no sbin), purges it, and
# removes the root. The same for the second binary package, twofold-shell
# (the compositor: the only one that may pull wlroots). Everything that mounts runs in a private mount
# namespace (unshare --kill-child): its mounts (debootstrap's /proc and
# /sys, ours) vanish with it, even if this test is killed. TAP.
. "$(dirname "$0")/../tap.sh"
: "${SOURCE_ROOT:?}"
W=$(mktemp -d /var/tmp/tfdeb.XXXXXX)
EXTRA_CLEANUP='rm -rf --one-file-system "$W"'
for t in dpkg-buildpackage dh debootstrap unshare chroot; do
	command -v "$t" >/dev/null || bail "$t missing: run tools/deps.sh"
done

# the host's Debian mirror (deb822 URIs: or a one-line deb entry), not
# the security archive
mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
	/etc/apt/sources.list.d/*.sources 2>/dev/null |
	grep -oE '^(URIs:[[:space:]]*|deb[[:space:]]+(\[[^]]*\][[:space:]]+)?)https?://[^[:space:]]+/debian/?([[:space:]]|$)' |
	grep -oE 'https?://[^[:space:]]+' | head -1)
mirror=${mirror:-http://deb.debian.org/debian}
diag "mirror: $mirror"

# --- build, from a copy: dpkg-buildpackage writes into the tree and its
# parent directory
mkdir -p "$W/src/twofold"
tar -C "$SOURCE_ROOT" --exclude=./build --exclude='./build-*' \
	--exclude=./var --exclude=./.git --exclude=./obj-\* -c . |
	tar -C "$W/src/twofold" -x
(cd "$W/src/twofold" && dpkg-buildpackage -us -uc -b) >"$W/build.log" 2>&1
ok $? "dpkg-buildpackage -us -uc -b" "$(tail -20 "$W/build.log")"
deb=$(ls "$W"/src/twofold_*_*.deb 2>/dev/null | head -1)
[ -f "$deb" ] || bail "no .deb built"
files=$(dpkg-deb -c "$deb" | awk '{print $6}')
for f in ./usr/bin/twofold ./usr/sbin/twofoldd ./lib/systemd/system/twofoldd.service \
	./usr/share/man/man1/twofold.1.gz ./usr/share/man/man8/twofoldd.8.gz \
	./usr/share/man/man5/twofold-config.5.gz \
	./usr/share/bash-completion/completions/twofold \
	./usr/share/zsh/vendor-completions/_twofold \
	./usr/share/doc/twofold/examples/device.conf.example; do
	has "$f" "$files" || { nok "the .deb holds $f" "$files"; continue; }
done
ok "the .deb holds the binaries, the unit, the man pages, the completions and the example"
# twofold-shell: the compositor and its page, in a package of its own, so
# the daemon's package pulls no wlroots (and no graphics stack)
sdeb=$(ls "$W"/src/twofold-shell_*_*.deb 2>/dev/null | head -1)
[ -f "$sdeb" ]
ok $? "a twofold-shell .deb is built too" "$(ls "$W"/src)"
sfiles=$(dpkg-deb -c "$sdeb" 2>/dev/null | awk '$1 !~ /^d/ {print $6}')
has ./usr/sbin/twofold-shell "$sfiles" &&
	has ./usr/share/man/man8/twofold-shell.8.gz "$sfiles" &&
	! grep -v -e '^\./usr/sbin/twofold-shell$' -e '^\./usr/share/man/man8/twofold-shell\.8\.gz$' \
		-e '^\./usr/share/doc/twofold-shell/' <<<"$sfiles" | grep -q .
ok $? "twofold-shell.deb: the compositor, its man page and its doc dir only" "$sfiles"
! grep -q -e twofold-shell <<<"$files"
ok $? "twofold.deb holds no twofold-shell" "$(grep twofold-shell <<<"$files")"
mdep=$(dpkg-deb -f "$deb" Depends)
sdep=$(dpkg-deb -f "$sdeb" Depends)
! grep -qiE 'wlroots|wayland|xkbcommon|pixman' <<<"$mdep"
ok $? "dpkg-deb -I twofold.deb: no wlroots, wayland, xkbcommon or pixman in Depends" "$mdep"
has libwlroots "$sdep"
ok $? "dpkg-deb -I twofold-shell.deb: Depends on the wlroots runtime (shlibs)" "$sdep"
grep -q "^ExecStop=/usr/.*/twofold/twofoldd-evict$" \
	<(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./lib/systemd/system/twofoldd.service)
ok $? "the packaged unit's ExecStop is the packaged helper"

# --- a throwaway Debian root, the package in it
R=$W/root
cp "$deb" "$W/twofold.deb"
cp "$sdeb" "$W/twofold-shell.deb"
out=$(unshare --mount --propagation private --fork --kill-child \
	env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
	DEBIAN_FRONTEND=noninteractive R="$R" W="$W" MIRROR="$mirror" bash -c '
	set -u
	step() { echo "== $*"; }
	in_root() { chroot "$R" "$@"; }
	step debootstrap
	debootstrap --variant=minbase bookworm "$R" "$MIRROR" >"$W/debootstrap.log" 2>&1 ||
		{ echo "debootstrap failed:"; tail -5 "$W/debootstrap.log"; exit 1; }
	cp /etc/resolv.conf "$R/etc/resolv.conf"
	mount -t proc proc "$R/proc" || exit 1
	cp "$W/twofold.deb" "$W/twofold-shell.deb" "$R/tmp/"
	step apt-get install
	{ in_root apt-get update -qq &&
	  in_root apt-get install -y -qq --no-install-recommends /tmp/twofold.deb; } \
		>"$W/apt.log" 2>&1 || { echo "apt-get failed:"; tail -8 "$W/apt.log"; exit 1; }
	step version
	in_root twofold --version
	in_root twofoldd --version
	step selftest
	in_root twofold selftest; echo "rc=$?"
	step selftest-nobody
	in_root setpriv --reuid=65534 --regid=65534 --clear-groups \
		env PATH=/usr/bin:/bin twofold selftest; echo "rc=$?"
	step files
	in_root dpkg -L twofold
	step shell-install
	in_root apt-get install -y -qq --no-install-recommends /tmp/twofold-shell.deb \
		>"$W/apt-shell.log" 2>&1; echo "rc=$?"
	in_root twofold-shell --version
	step shell-files
	in_root dpkg -L twofold-shell
	step shell-purge
	in_root dpkg -L twofold-shell 2>/dev/null >"$W/shell-files"
	in_root apt-get purge -y -qq twofold-shell >"$W/purge-shell.log" 2>&1; echo "rc=$?"
	# every file the package had (not the shared directories) is gone
	while read -r f; do
		[ -d "$R$f" ] && [ ! -L "$R$f" ] && continue
		[ -e "$R$f" ] || [ -L "$R$f" ] && echo "left: $f"
	done <"$W/shell-files"
	[ -e "$R/usr/share/doc/twofold-shell" ] && echo "left: /usr/share/doc/twofold-shell"
	in_root dpkg -s twofold >/dev/null 2>&1 && echo "twofold still installed"
	step purge
	in_root apt-get purge -y -qq twofold >"$W/purge.log" 2>&1; echo "rc=$?"
	in_root sh -c "ls /usr/sbin/twofoldd /usr/bin/twofold 2>&1"
	step done
' 2>&1)
rc=$?
section() { awk -v s="== $1" '$0 == s { p = 1; next } /^== / { p = 0 } p' <<<"$out"; }
[ $rc = 0 ] && has "== done" "$out"
ok $? "debootstrap, apt-get install ./twofold.deb in the throwaway root" "$out"
v=$(section version)
has "twofold 0.1.0" "$v" && has "twofoldd 0.1.0" "$v"
ok $? "in the root: twofold --version" "$v"
s=$(section selftest)
has "ok   intl" "$s" && has "ok   gm" "$s" && has "rc=0" "$s"
ok $? "in the root: twofold selftest (both suites)" "$s"
s=$(section selftest-nobody)
has "ok   intl" "$s" && has "rc=0" "$s"
ok $? "in the root, as nobody (no sbin on PATH): twofold selftest finds twofoldd" "$s"
s=$(section files)
has /lib/systemd/system/twofoldd.service "$s" && has /usr/share/man/man8/twofoldd.8.gz "$s"
ok $? "dpkg -L: the unit and the man pages are installed" "$s"
s=$(section shell-install)
has "rc=0" "$s" && has "twofold-shell 0.1.0" "$s"
ok $? "in the root: apt-get install ./twofold-shell.deb (wlroots from the mirror), twofold-shell --version" "$s$(tail -5 "$W/apt-shell.log" 2>/dev/null)"
s=$(section shell-files)
has /usr/sbin/twofold-shell "$s" && has /usr/share/man/man8/twofold-shell.8.gz "$s"
ok $? "dpkg -L twofold-shell: the compositor and its man page" "$s"
s=$(section shell-purge)
has "rc=0" "$s" && ! has "left:" "$s" && has "twofold still installed" "$s"
ok $? "apt-get purge twofold-shell leaves none of its files, twofold stays" "$s"
s=$(section purge)
has "rc=0" "$s" && has "No such file" "$s"
ok $? "apt-get purge removes it" "$s"
# nothing mounted below the work dir is left in this namespace
! grep -qF " $W/" /proc/self/mounts
ok $? "no mount left below the throwaway root"
finish
