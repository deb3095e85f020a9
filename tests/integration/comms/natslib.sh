# shellcheck shell=bash
# SPDX-License-Identifier: ISC
# Relays joined by NATS, for one test (sourced after commslib.sh, which
# gives W, wait_for, ok, SP): a two-node nats-server cluster on loopback,
# relays, twofold-comms services and commsharness devices on given ports.
# The caller keeps the pids (NP1 NP2 from nats_cluster, $! after relay_at)
# in BG_PIDS through its own upd(); every process here writes under W.
#
#   NATS_CLUSTER    the cluster's name (default tf)
#   RELAY_COMMON    an array of arguments every relay_at adds (e.g.
#                   --user nobody)
NATS_CLUSTER=${NATS_CLUSTER:-tf}
RELAY_COMMON=()

nats_node() { # nats_node N PORT ROUTEPORT OTHERROUTE: log W/natsN.log
	nats-server -a 127.0.0.1 -p "$2" --cluster_name "$NATS_CLUSTER" \
		--cluster "nats://127.0.0.1:$3" --routes "nats://127.0.0.1:$4" \
		-l "$W/nats$1.log" &
}
# nats_cluster PORT1 PORT2 ROUTE1 ROUTE2: both nodes (NP1, NP2, then
# upd), routed to each other; fails when they are not after 10 s
nats_cluster() {
	nats_node 1 "$1" "$3" "$4"
	NP1=$!
	nats_node 2 "$2" "$4" "$3"
	NP2=$!
	upd
	wait_for "$W/nats1.log" "Server is ready" &&
		wait_for "$W/nats2.log" "Server is ready" || return 1
	for _ in $(seq 100); do
		grep -q "Route connection created" "$W/nats1.log" 2>/dev/null &&
			return 0
		sleep 0.1
	done
	return 1
}
# relay_at NAME PORT NATSURLS [RELAY ARGS...]: relay NAME on PORT, its
# stdout W/NAME.out (ready), its log W/NAME.log; the store is
# W/db/store.db (one SQLite file the relays share, WAL) unless the
# arguments name one
relay_at() {
	local store=(--store "$W/db/store.db")
	case " ${*:4} " in *" --store "*) store=() ;; esac
	"$TWOFOLD_RELAY" --listen "127.0.0.1:$2" --key "$W/relay.key" \
		--ca "$W/ca/ca.pub" "${store[@]}" --nats "$3" -v \
		"${RELAY_COMMON[@]}" "${@:4}" \
		>"$W/$1.out" 2>>"$W/$1.log" &
}
svc_at() { # svc_at NAME PORT: NAME's twofold-comms on the relay at PORT
	"$TWOFOLD_COMMS" --state "$W/$1" service --relay "127.0.0.1:$2" \
		--relay-pub "$W/relay.key.pub" --key "$W/$1.key" \
		--cert "$W/$1.cert" --ca "$W/ca/ca.pub" -v \
		>"$W/$1.out" 2>>"$W/$1.log" &
	SP[$1]=$!
	upd
	wait_for "$W/$1.out" ready
}
dev_at() { # dev_at NAME PORT: a commsharness device driven by stdin
	"$COMMSHARNESS" udp intl "$W/$1.key" "$W/relay.key.pub" \
		"$W/$1.cert" "$2"
}
# the device id twofold-ca gave NAME (its key's id): MSG/FROM name the
# sender's officer/device
dev_of() { "$TWOFOLD_CA" show "$W/$1.cert" | sed -n 's/^device: //p'; }
