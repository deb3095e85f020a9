#!/usr/bin/env bash
# Integration: `meson install --destdir` puts exactly the binaries, the
# man pages, the completions, the unit, its stop helper and the example
# config where they belong; every page renders without a warning; the
# completion scripts load and complete. TAP. Cleans up its temp dirs.
. "$(dirname "$0")/../tap.sh"
: "${BUILD_ROOT:?}" "${TF_PREFIX:?}"
DEST=$(mktemp -d /tmp/tfinst.XXXXXX)
EXTRA_CLEANUP='rm -rf "$DEST"'
abs() { case $1 in /*) echo "$1" ;; *) echo "$TF_PREFIX/$1" ;; esac; }

out=$(meson install -C "$BUILD_ROOT" --no-rebuild --destdir "$DEST" 2>&1)
ok $? "meson install --destdir" "$(tail -5 <<<"$out")"

want=(
	"$(abs "$TF_BINDIR")/twofold"
	"$(abs "$TF_SBINDIR")/twofoldd"
	"$(abs "$TF_SBINDIR")/twofold-gateway"
	"$(abs "$TF_SBINDIR")/twofold-relay"
	"$(abs "$TF_SBINDIR")/twofold-groupd"
	"$(abs "$TF_BINDIR")/twofold-pkg"
	"$(abs "$TF_BINDIR")/twofold-ca"
	"$(abs "$TF_BINDIR")/twofold-comms"
	"$(abs "$TF_LIBEXECDIR")/twofold/twofoldd-evict"
	"$(abs "$TF_LIBEXECDIR")/twofold/twofold-scanner"
	"$(abs "$TF_UNITDIR")/twofoldd.service"
	"$(abs "$TF_BASHCOMPDIR")/twofold"
	"$(abs "$TF_ZSHCOMPDIR")/_twofold"
	"$(abs "$TF_DATADIR")/doc/twofold/examples/device.conf.example"
)
pages=(man1/twofold.1 man8/twofoldd.8 man5/twofold-config.5
	man8/twofold-gateway.8 man1/twofold-ca.1 man8/twofold-relay.8
	man1/twofold-comms.1 man8/twofold-groupd.8)
# a persona's notifier, when libsystemd (its sd-bus) was found
if [ "${TF_SD_NOTIFY:-0}" = 1 ]; then
	want+=("$(abs "$TF_LIBEXECDIR")/twofold/tf-notifyd")
fi
# the compositor, when its wlroots dependency was found (-Dshell)
if [ "${TF_SHELL:-0}" = 1 ]; then
	want+=("$(abs "$TF_SBINDIR")/twofold-shell")
	pages+=(man8/twofold-shell.8)
fi
if [ "$TF_MAN" = 1 ]; then
	for p in "${pages[@]}"; do want+=("$(abs "$TF_MANDIR")/$p"); done
fi
got=$(cd "$DEST" && find . -type f -o -type l | sed 's/^\.//' | sort)
exp=$(printf '%s\n' "${want[@]}" | sed 's://*:/:g' | sort)
[ "$got" = "$exp" ]
ok $? "the install is exactly the expected files" \
	"$(diff <(echo "$exp") <(echo "$got"))"
if [ "$TF_MAN" != 1 ]; then
	nok "man pages installed" "go-md2man missing: tools/deps.sh installs it"
fi

mode() { stat -c %a "$DEST$1"; }
ok "$([ "$(mode "$(abs "$TF_SBINDIR")/twofoldd")" = 755 ] && [ "$(mode "$(abs "$TF_BINDIR")/twofold")" = 755 ] && [ "$(mode "$(abs "$TF_LIBEXECDIR")/twofold/twofoldd-evict")" = 755 ]; echo $?)" \
	"binaries and the stop helper are executable"
ok "$([ "$(mode "$(abs "$TF_UNITDIR")/twofoldd.service")" = 644 ]; echo $?)" "the unit is 0644"

# the unit names the installed programs (configured paths, not the build's)
unit=$DEST$(abs "$TF_UNITDIR")/twofoldd.service
sbin=$(abs "$TF_SBINDIR" | sed 's://*:/:g')
grep -qx "ExecStart=$sbin/twofoldd" "$unit" && grep -qx "Type=notify" "$unit" &&
	grep -q "^ExecStop=.*/twofold/twofoldd-evict$" "$unit" && ! grep -q '@' "$unit"
ok $? "unit: Type=notify, ExecStart and ExecStop at the installed paths" "$(grep ^Exec "$unit")"
if command -v systemd-analyze >/dev/null; then
	# verify against the staged programs: point the unit at them
	vdir=$DEST/verify
	mkdir -p "$vdir"
	sed "s|=\(/[^ ]*/twofold[^ ]*\)|=$DEST\1|; s|^ExecReload=.*|ExecReload=/bin/true|" "$unit" >"$vdir/twofoldd.service"
	out=$(SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no "$vdir/twofoldd.service" 2>&1 |
		grep -v -e 'multi-user.target' -e 'local-fs.target' -e 'systemd-modules-load' -e 'Failed to prepare filename' -e '^$')
	[ -z "$out" ]
	ok $? "systemd-analyze verify: no complaint about the unit" "$out"
fi

# --- man pages: every page renders at 80 columns without a warning
if [ "$TF_MAN" = 1 ]; then
	for p in "${pages[@]}"; do
		f=$DEST$(abs "$TF_MANDIR")/$p
		warn=$(MANWIDTH=80 man -l --warnings "$f" 2>&1 >/dev/null)
		text=$(MANWIDTH=80 man -l "$f" 2>/dev/null)
		name=$(basename "$p")
		name="${name%.*}(${name##*.})"
		[ -z "$warn" ] && has "NAME" "$text" && has "$name" "$(head -1 <<<"$text")"
		ok $? "man -l --warnings $p: renders, no warning" "$warn"
	done
	text=$(MANWIDTH=80 man -l "$DEST$(abs "$TF_MANDIR")/man8/twofoldd.8" 2>/dev/null)
	has "SIGHUP" "$text" && has "twofoldd.service" "$text"
	ok $? "twofoldd(8) documents SIGHUP and the service"
fi

# --- the example config is the one twofold-config(5) shows, and parses
ex=$DEST$(abs "$TF_DATADIR")/doc/twofold/examples/device.conf.example
grep -q '^\[persona work2\]' "$ex" && grep -q '^version = 1' "$ex"
ok $? "example device.conf: the page's EXAMPLE"

# --- completion: syntax, then completing with the real program
bc=$DEST$(abs "$TF_BASHCOMPDIR")/twofold
zc=$DEST$(abs "$TF_ZSHCOMPDIR")/_twofold
out=$(bash -n "$bc" 2>&1); ok $? "bash -n twofold.bash" "$out"
if command -v zsh >/dev/null; then
	out=$(zsh -n "$zc" 2>&1); ok $? "zsh -n _twofold" "$out"
	# loads in a real zsh with compinit (autoload from fpath, no error)
	out=$(ZDOTDIR=$DEST HOME=$DEST zsh -f -c "fpath=(${zc%/*} \$fpath); autoload -Uz compinit; compinit -u -d $DEST/zcompdump; autoload -Uz _twofold; print -r -- \${_comps[twofold]}" 2>&1)
	[ "$out" = _twofold ]
	ok $? "zsh: compinit registers _twofold for twofold" "$out"
else
	nok "zsh installed" "tools/deps.sh installs zsh"
fi

# complete WORDS...: what bash completes for the command line WORDS (the
# last word the one being completed), with the build's twofold
complete_words() {
	bash -c '
		. "$1"; shift
		COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
		COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
		_twofold
		printf "%s\n" "${COMPREPLY[@]}"' _ "$bc" "$TWOFOLD" "$@"
}
out=$(complete_words st)
[ "$out" = status ]
ok $? "bash: twofold st<TAB> completes to status" "$out"
out=$(complete_words "")
for v in $("$TWOFOLD" --help | awk '/^Verbs:/{v=1;next} v&&/^[ \t]*$/{exit} v{print $1}'); do
	has "$v" "$out" || { nok "bash: every verb of --help completes ($v missing)" "$out"; break; }
done
[ -n "$out" ] && ok "bash: every verb of twofold --help is offered"
out=$(complete_words lock secure --ev)
[ "$out" = --evict ]
ok $? "bash: options from the verb's --help (lock --ev -> --evict)" "$out"

# persona names come from the state's device.conf, --state aware
S1=$DEST/state1
mkdir -p "$S1"
printf 'version = 1\n[persona home]\nuid_base = 1\n[persona field]\ncredential = yes\n' >"$S1/device.conf"
out=$(complete_words --state "$S1" unlock "")
[ "$(sort <<<"$out" | tr '\n' ' ')" = "field home " ]
ok $? "bash: persona names from --state DIR's device.conf" "$out"
out=$(complete_words unlock --state "$S1" f)
[ "$out" = field ]
ok $? "bash: --state after the verb counts too" "$out"
out=$(TWOFOLD_STATE=$S1 complete_words persona start h)
[ "$out" = home ]
ok $? "bash: persona start NAME from \$TWOFOLD_STATE" "$out"
out=$(complete_words persona "")
[ "$(tr '\n' ' ' <<<"$out")" = "list start stop restart " ]
ok $? "bash: persona subcommands" "$out"

# zsh: the completion function itself, with compadd stubbed to print
# what it is offered (zsh's own matching is not under test)
zcomplete() {
	zsh -f -c '
		compadd() {
			while [[ $1 == -* ]]; do
				case $1 in
				-a) print -l -- ${(P)2}; return ;;
				--) shift; break ;;
				*) shift ;;
				esac
			done
			print -l -- "$@"
		}
		_files() { print -- "<files>"; }
		_command_names() { print -- "<commands>"; }
		zc=$1; shift
		words=("$@"); CURRENT=$#
		source $zc' _ "$zc" "$TWOFOLD" "$@"
}
if command -v zsh >/dev/null; then
	out=$(zcomplete "")
	has status "$out" && has selftest "$out" && has unlock "$out"
	ok $? "zsh: verbs from twofold --help" "$out"
	out=$(zcomplete --state "$S1" unlock "")
	[ "$(sort <<<"$out" | tr '\n' ' ')" = "field home " ]
	ok $? "zsh: persona names from --state DIR's device.conf" "$out"
	out=$(zcomplete lock x --)
	has -- --evict "$out"
	ok $? "zsh: options from the verb's --help" "$out"
fi
finish
