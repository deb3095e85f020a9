# SPDX-License-Identifier: ISC
# Shared by the twofold-comms and twofold-relay tests (sourced after
# tap.sh, PORT set first): a CA, a relay and devices in a temp dir, the
# relay and the twofold-comms services started and stopped by pid
# (BG_PIDS so cleanup kills what a failing test left). A test with other
# needs defines its own relay_start after sourcing this.
W=$(mktemp -d /tmp/tfcomms.XXXXXX)
EXTRA_CLEANUP='rm -rf "$W"'
PORT=${PORT:-51997}
RP=
declare -A SP=()

ca() { "$TWOFOLD_CA" "$@" >/dev/null; }
# Addresses are officer/device (several devices per officer). The tests
# written for one device per officer name peers by officer alone, and
# their devices carry the CA's default id (16 hex digits, the key's id):
# cm shows those addresses without it. A device named with --device
# (comms_device) is always shown whole; CM_RAW=1 shows everything raw.
CM_SED='s#([A-Za-z0-9_.@-])/[0-9a-f]{16}([^0-9A-Za-z_.@-]|$)#\1\2#g'
cm() { # cm NAME ARGS...: the CLI against NAME's service
	local n=$1 o e rc
	shift
	if [ -n "${CM_RAW:-}" ]; then
		"$TWOFOLD_COMMS" --state "$W/$n" "$@"
		return
	fi
	o=$(mktemp "$W/.cm.XXXXXX") && e=$(mktemp "$W/.cm.XXXXXX") || return 1
	"$TWOFOLD_COMMS" --state "$W/$n" "$@" >"$o" 2>"$e"
	rc=$?
	sed -E "$CM_SED" "$e" >&2
	sed -E "$CM_SED" "$o"
	rm -f "$o" "$e"
	return $rc
}
GP= # a test's twofold-groupd serve
bg_update() { BG_PIDS="$RP ${SP[*]} $GP"; }
gd() { "$TWOFOLD_GROUPD" --state "$W/gd" "$@"; } # gd ARGS...: twofold-groupd
# serve_start ARGS...: twofold-groupd serve on the relay at PORT, its
# comms service's state W/groupd; output W/serve.{out,log}, pid GP
serve_start() {
	"$TWOFOLD_GROUPD" --state "$W/gd" serve --relay 127.0.0.1:$PORT \
		--relay-pub "$W/relay.key.pub" --comms "$W/groupd" "$@" \
		>>"$W/serve.out" 2>>"$W/serve.log" &
	GP=$!
	bg_update
	wait_for "$W/serve.out" "serving"
}
# group_stat NAME KEY: a counter of group north in NAME's status
# (heard, concealed, ...)
group_stat() {
	cm "$1" status 2>/dev/null |
		sed -n "s/^group north .* $2 \([0-9]*\).*/\1/p"
}
wait_for() { # wait_for FILE TEXT [N]: at most 10 s, for N lines (default 1)
	for _ in $(seq 100); do
		[ "$(grep -c "$2" "$1" 2>/dev/null)" -ge "${3:-1}" ] && return 0
		sleep 0.1
	done
	return 1
}
wait_status() { # wait_status NAME TEXT: at most 20 s
	for _ in $(seq 200); do
		cm "$1" status 2>/dev/null | grep -q "$2" && return 0
		sleep 0.1
	done
	return 1
}
stat_of() { # stat_of NAME KEY: one value of `status`
	cm "$1" status 2>/dev/null | awk -v k="$2" '$1 == k { print $2 }'
}
wait_frames() { # wait_frames NAME KEY MIN: at most 20 s, until KEY >= MIN
	for _ in $(seq 200); do
		[ "$(stat_of "$1" "$2")" -ge "$3" ] 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
wait_file() { # wait_file FILE: at most 20 s
	for _ in $(seq 200); do
		[ -f "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# wait_published NAME: NAME's prekeys are on the relay ("relay connected"
# comes at the handshake, the publication at the relay's answer to the
# PREKEYS, a moment later; a call or a first message to NAME before it
# gets "no such officer")
wait_published() { wait_file "$W/$1/published"; }
wait_read() { # wait_read NAME N: read until N new lines, in W/NAME.read
	: >"$W/$1.read"
	for _ in $(seq 300); do
		cm "$1" msg read >>"$W/$1.read" 2>/dev/null
		[ "$(wc -l <"$W/$1.read")" -ge "$2" ] && return 0
		sleep 0.1
	done
	return 1
}
comms_world() { # comms_world SUITE [NAMES...]
	local s=$1 n
	shift
	rm -rf "${W:?}"/*
	ca init --suite "$s" -o "$W/ca"
	echo "$s" >"$W/suite"
	ca keygen --suite "$s" -o "$W/relay.key"
	for n in alice bob "$@"; do
		ca keygen --suite "$s" -o "$W/$n.key"
		ca issue --ca "$W/ca" --officer "$n" --role officer \
			--pubkey "$W/$n.key.pub" --days 1 -o "$W/$n.cert"
	done
}
comms_device() { # comms_device NAME OFFICER DEVICE [SUITE]: another device
	# of OFFICER (its own key; a certificate with --device), its state
	# dir W/NAME; comms_world made the CA
	local s=${4:-$(cat "$W/suite")}
	ca keygen --suite "$s" -o "$W/$1.key"
	ca issue --ca "$W/ca" --officer "$2" --device "$3" --role officer \
		--pubkey "$W/$1.key.pub" --days 1 -o "$W/$1.cert"
}
relay_start() {
	"$TWOFOLD_RELAY" --listen 127.0.0.1:$PORT --key "$W/relay.key" \
		--ca "$W/ca/ca.pub" --store "$W/store.db" -v \
		>"$W/relay.out" 2>>"$W/relay.log" &
	RP=$!
	bg_update
	wait_for "$W/relay.out" ready
}
relay_stop() { # relay_stop SIGNAL
	kill -"$1" "$RP" 2>/dev/null
	wait "$RP" 2>/dev/null
	RP=
	bg_update
}
svc_via() { # svc_via NAME PORT [SERVICE ARGS...]: NAME's service, its relay on PORT
	"$TWOFOLD_COMMS" --state "$W/$1" service --relay 127.0.0.1:$2 \
		--relay-pub "$W/relay.key.pub" --key "$W/$1.key" \
		--cert "$W/$1.cert" --ca "$W/ca/ca.pub" "${@:3}" \
		>"$W/$1.out" 2>>"$W/$1.log" &
	SP[$1]=$!
	bg_update
	wait_for "$W/$1.out" ready
}
svc_start() { svc_via "$1" "$PORT" -v "${@:2}"; } # svc_start NAME [SERVICE ARGS...]
svc_stop() { # svc_stop NAME
	kill -TERM "${SP[$1]}" 2>/dev/null
	wait "${SP[$1]}" 2>/dev/null
	unset "SP[$1]"
	bg_update
}
