# shellcheck shell=bash
# SPDX-License-Identifier: ISC
# A private Patroni 3.0 cluster for one test (sourced, in the style of
# pglib.sh): one etcd 3.4 member and two Patroni nodes, each managing its
# own PostgreSQL 15 data dir, in a temp dir, all as `nobody` (postgres
# refuses root), on 127.0.0.1 of the test's own network namespace
# (own_netns.sh, as meson runs every integration test: nothing else
# listens there, so random ports are free, and a node's traffic can be
# dropped with nftables without touching the host's rules; pat_start
# refuses to run in the host's namespace).
#
# pat_start sets PAT_DIR, PAT_PG[1..2] (PostgreSQL ports),
# PAT_API[1..2] (Patroni REST API ports), PAT_CONNINFO (both hosts,
# target_session_attrs=read-write, the relay's password PAT_PW: a
# canary a test looks for in logs) and returns 0 once node 1 leads
# with node 2 its synchronous standby (2: patroni, etcd, PostgreSQL 15
# or a cgroup2 mount missing; 3: in the host's namespace; 1: it did not
# come up, see pat_logs). pat_stop kills every process it started, by
# pid (etcd; each node's cgroup: its Patroni, postmaster and their
# children), drops its nftables tables, its cgroups and the dir: call
# it from the test's cleanup; it is safe to call twice and after a
# failed start (KEEP_PAT=1 keeps the dir for a post mortem).
#
# Synchronous replication (bootstrap.dcs, synchronous_mode: true): the
# relay answers STORED only after its COMMIT returned, and with
# asynchronous replication a failover promotes a standby that may lack
# the last commits the old primary had acknowledged: messages the
# senders dropped from their outboxes would be gone. In synchronous mode
# a COMMIT returns only once the synchronous standby has flushed it, and
# Patroni promotes only that standby (the one named in the DCS /sync
# key), so an acknowledged message survives the loss of the primary.
# synchronous_mode_strict stays false: with the standby gone, the
# primary goes on alone (after Patroni took the standby out of /sync, so
# it cannot be promoted with a gap) rather than stopping every COMMIT
# until a standby comes back, which would block the relay's store (its
# puts wait in COMMIT). Strict mode buys two copies at every moment at
# that price; docs/comms.md says so.
#
# Timings short for a test, within Patroni's rule loop_wait +
# 2 * retry_timeout <= ttl: ttl 10 s (a dead leader's key expires after
# at most 10 s), loop_wait 1 s, retry_timeout 4 s.
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PAT_DIR=
PAT_ETCD=
PAT_PW=
PAT_CONNINFO=
PAT_SU_PW=
declare -a PAT_PG=() PAT_API=() PAT_PID=()
# as nobody, exec'ed all the way down (setpriv, not runuser, which
# forks: $! is then the program itself, so it can be killed by pid)
pat_as() {
	exec env HOME="$PAT_DIR" setpriv --reuid=nobody --regid=nogroup \
		--clear-groups -- "$@"
}
# below the ephemeral range (32768-): no client's socket takes one first
pat_port() { echo $((20000 + RANDOM % 12000)); }
pat_api() { # pat_api N PATH: the body of node N's REST answer, 2 s at most
	curl --noproxy '*' -s -m 2 "http://127.0.0.1:${PAT_API[$1]}$2"
}
pat_code() { # pat_code N PATH: node N's HTTP status for PATH
	curl --noproxy '*' -s -o /dev/null -m 2 -w '%{http_code}' \
		"http://127.0.0.1:${PAT_API[$1]}$2"
}
# pat_timeline N: the timeline node N's Patroni reports
pat_timeline() {
	pat_api "$1" /patroni | python3 -c \
		'import json, sys; print(json.load(sys.stdin).get("timeline", ""))' 2>/dev/null
}
# pat_leader: the node whose Patroni says it leads and is writable
pat_leader() {
	local i
	for i in 1 2; do
		[ -n "${PAT_PID[$i]:-}" ] || continue
		[ "$(pat_code "$i" /primary)" = 200 ] && { echo "$i"; return 0; }
	done
	return 1
}
pat_wait() { # pat_wait SECONDS CMD...: until CMD succeeds
	local end=$((SECONDS + $1))
	shift
	while [ $SECONDS -lt $end ]; do
		"$@" && return 0
		sleep 0.2
	done
	return 1
}
pat_is_leader() { [ "$(pat_code "$1" /primary)" = 200 ]; }
pat_is_sync() { [ "$(pat_code "$1" /sync)" = 200 ]; }
# pat_psql N SQL: as the superuser, on node N (TCP, password from env)
pat_psql() {
	env PGPASSWORD="$PAT_SU_PW" "$PG_BIN/psql" -X -q -At \
		-v ON_ERROR_STOP=1 -h 127.0.0.1 -p "${PAT_PG[$1]}" -U postgres \
		-d "${3:-postgres}" -c 'SET client_min_messages TO warning' -c "$2"
}
pat_conf() { # pat_conf N: node N's patroni.yml
	local d=$PAT_DIR/n$1
	cat <<-YML
		scope: tfpat
		namespace: /tfpat/
		name: n$1
		log:
		  level: INFO
		restapi:
		  listen: 127.0.0.1:${PAT_API[$1]}
		  connect_address: 127.0.0.1:${PAT_API[$1]}
		etcd3:
		  host: 127.0.0.1:$PAT_ETCD
		watchdog:
		  mode: off
		bootstrap:
		  dcs:
		    ttl: 10
		    loop_wait: 1
		    retry_timeout: 4
		    maximum_lag_on_failover: 1048576
		    synchronous_mode: true
		    synchronous_mode_strict: false
		    postgresql:
		      use_pg_rewind: true
		      use_slots: true
		      remove_data_directory_on_rewind_failure: true
		      remove_data_directory_on_diverged_timelines: true
		      parameters:
		        fsync: 'on'
		        synchronous_commit: 'on'
		        wal_log_hints: 'on'
		        max_connections: 40
		        max_wal_senders: 5
		        max_replication_slots: 5
		  initdb:
		  - encoding: UTF8
		  - data-checksums
		postgresql:
		  listen: 127.0.0.1:${PAT_PG[$1]}
		  connect_address: 127.0.0.1:${PAT_PG[$1]}
		  data_dir: $d/data
		  bin_dir: $PG_BIN
		  pgpass: $d/pgpass
		  authentication:
		    superuser:
		      username: postgres
		      password: $PAT_SU_PW
		    replication:
		      username: replicator
		      password: rep-$PAT_SU_PW
		    rewind:
		      username: rewinder
		      password: rew-$PAT_SU_PW
		  pg_hba:
		  - local all all trust
		  - host replication replicator 127.0.0.1/32 scram-sha-256
		  - host all all 127.0.0.1/32 scram-sha-256
		  parameters:
		    unix_socket_directories: '$d'
		    shared_buffers: 32MB
		    logging_collector: 'on'
		    log_directory: '$d/pglog'
		    log_filename: 'postgresql.log'
	YML
}
# Each node's processes in a cgroup (v2) of their own, so nftables can
# tell a node's packets by their socket (`socket cgroupv2`) whatever
# the port: its outgoing connections too (the standby's walreceiver,
# its Patroni's to etcd and to the other node), which come from
# ephemeral ports. PAT_CG2: the cgroup2 mount, PAT_CGREL: the prefix
# nftables needs (it resolves a path under /sys/fs/cgroup).
PAT_CG2='' PAT_CGREL=''
pat_cg_find() {
	if [ "$(stat -fc %T /sys/fs/cgroup 2>/dev/null)" = cgroup2fs ]; then
		PAT_CG2=/sys/fs/cgroup PAT_CGREL=
	elif [ "$(stat -fc %T /sys/fs/cgroup/unified 2>/dev/null)" = cgroup2fs ]; then
		PAT_CG2=/sys/fs/cgroup/unified PAT_CGREL=unified/
	else
		return 1
	fi
}
pat_cg() { echo "tfpat.$$.n$1"; } # pat_cg N: node N's cgroup (level 1)
pat_node_start() { # pat_node_start N: node N's Patroni (it starts its postgres)
	local d=$PAT_DIR/n$1 cg
	cg=$PAT_CG2/$(pat_cg "$1")
	mkdir -p "$d" && chown nobody:nogroup "$d" && chmod 700 "$d" || return 1
	{ [ -d "$cg" ] || mkdir "$cg"; } || return 1
	pat_conf "$1" >"$d/patroni.yml" || return 1
	# into its cgroup before the exec: postgres and all its children
	# follow
	(echo "$BASHPID" >"$cg/cgroup.procs" && cd / &&
		pat_as patroni "$d/patroni.yml") >>"$d/patroni.log" 2>&1 &
	PAT_PID[$1]=$!
}
# pat_pm N: node N's running postmaster (postmaster.pid's first line,
# if that pid is a postgres: a crashed one leaves its file behind)
pat_pm() {
	local pm
	pm=$(head -1 "$PAT_DIR/n$1/data/postmaster.pid" 2>/dev/null)
	[ -n "$pm" ] && [ "$(cat "/proc/$pm/comm" 2>/dev/null)" = postgres ] &&
		echo "$pm"
}
pat_kids() { cat "/proc/$1/task/$1/children" 2>/dev/null; }
# pat_node_pids N: every process of node N: its Patroni, its postmaster
# and the postmaster's children, and whatever else is in its cgroup
# (pg_rewind, pg_basebackup, a dying backend); all started by it
pat_node_pids() {
	local pm
	pm=$(pat_pm "$1")
	echo "${PAT_PID[$1]:-} ${pm:-} $([ -n "$pm" ] && pat_kids "$pm")" \
		"$([ -n "$PAT_CG2" ] && cat "$PAT_CG2/$(pat_cg "$1")/cgroup.procs" 2>/dev/null)"
}
# pat_node_kill N [blackhole]: node N dies whole: its Patroni, its
# postmaster and the postmaster's children, SIGKILL all at once. With
# blackhole, first its traffic vanishes (nftables, in the test's
# namespace: every packet to its PostgreSQL and REST ports, every
# packet its own sockets send, by their cgroup, and every packet of a
# connection one of them ever sent on, by the conntrack mark pat_start
# has set on them: the kernel's RST for a socket that is gone belongs to
# no cgroup, but to the connection), as when a machine loses power: no
# FIN, no RST reaches a peer, which only a TCP timeout or keepalive can
# notice. pat_node_unhole N lifts it.
pat_node_kill() {
	local pm pids
	if [ "${2:-}" = blackhole ]; then
		nft -f - <<-NFT || return 1
			table inet tfpat$1 {
				chain out {
					type filter hook output priority -10; policy accept;
					tcp dport { ${PAT_PG[$1]}, ${PAT_API[$1]} } drop
					tcp sport { ${PAT_PG[$1]}, ${PAT_API[$1]} } drop
					socket cgroupv2 level 1 "$PAT_CGREL$(pat_cg "$1")" drop
					ct mark $1 drop
				}
			}
		NFT
	fi
	pm=$(pat_pm "$1")
	pids=$(pat_node_pids "$1")
	# shellcheck disable=SC2086
	[ -n "${pids// /}" ] && kill -KILL $pids 2>/dev/null
	[ -n "${PAT_PID[$1]:-}" ] && wait "${PAT_PID[$1]}" 2>/dev/null
	PAT_PID[$1]=
	# the children may take a moment to be gone; the pid file stays (a
	# crashed postmaster's), Patroni handles it at the next start
	for _ in $(seq 50); do
		[ -n "$pm" ] && kill -0 "$pm" 2>/dev/null || break
		sleep 0.1
	done
	return 0
}
pat_node_unhole() { nft delete table inet "tfpat$1" 2>/dev/null || :; }
pat_start() {
	[ -x "$PG_BIN/initdb" ] && command -v patroni >/dev/null &&
		command -v etcd >/dev/null || return 2
	# nftables rules and fixed-looking ports: never in the host's
	# network namespace
	[ "$(readlink /proc/self/ns/net)" != "$(readlink /proc/1/ns/net)" ] ||
		return 3
	pat_cg_find || return 2
	PAT_DIR=$(mktemp -d "${PG_BASE:-/tmp}/tfpat.XXXXXX") || return 1
	# each node's connections marked N, from their first packet its
	# sockets send (pat_node_kill's blackhole drops them by the mark)
	mkdir "$PAT_CG2/$(pat_cg 1)" "$PAT_CG2/$(pat_cg 2)" || return 1
	nft -f - <<-NFT || return 1
		table inet tfpatmark {
			chain out {
				type filter hook output priority 0; policy accept;
				socket cgroupv2 level 1 "$PAT_CGREL$(pat_cg 1)" ct mark set 1
				socket cgroupv2 level 1 "$PAT_CGREL$(pat_cg 2)" ct mark set 2
			}
		}
	NFT
	chown nobody:nogroup "$PAT_DIR" && chmod 711 "$PAT_DIR" || return 1
	PAT_SU_PW=su-$RANDOM$RANDOM$RANDOM
	PAT_PW=pat-pw-canary-$RANDOM$RANDOM$RANDOM
	# distinct random ports (in the namespace: nothing else is there)
	local ports=() p
	while [ ${#ports[@]} -lt 6 ]; do
		p=$(pat_port)
		case " ${ports[*]} " in *" $p "*) continue ;; esac
		ports+=("$p")
	done
	PAT_PG=([1]=${ports[0]} [2]=${ports[1]})
	PAT_API=([1]=${ports[2]} [2]=${ports[3]})
	PAT_ETCD=${ports[4]}
	mkdir -p "$PAT_DIR/etcd" && chown nobody:nogroup "$PAT_DIR/etcd" &&
		chmod 700 "$PAT_DIR/etcd" || return 1
	local peer=http://127.0.0.1:${ports[5]}
	(cd / && pat_as etcd --name e1 --data-dir "$PAT_DIR/etcd/data" \
		--listen-client-urls "http://127.0.0.1:$PAT_ETCD" \
		--advertise-client-urls "http://127.0.0.1:$PAT_ETCD" \
		--listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
		--initial-cluster "e1=$peer" --initial-cluster-token tfpat \
		--initial-cluster-state new --heartbeat-interval 100 \
		--election-timeout 1000) >"$PAT_DIR/etcd/log" 2>&1 &
	PAT_PID[0]=$!
	pat_wait 20 curl --noproxy '*' -s -m 1 -o /dev/null \
		"http://127.0.0.1:$PAT_ETCD/health" || return 1
	# node 1 first, so it bootstraps the cluster and leads; node 2 then
	# joins as its replica (pg_basebackup) and becomes the sync standby
	pat_node_start 1 || return 1
	pat_wait 60 pat_is_leader 1 || return 1
	pat_node_start 2 || return 1
	pat_wait 90 pat_is_sync 2 || return 1
	# the relay's own role and database (the store creates its tables in
	# it: PostgreSQL 15 no longer lets every role create in public)
	pat_psql 1 "CREATE ROLE relay LOGIN PASSWORD '$PAT_PW'" &&
		pat_psql 1 "CREATE DATABASE relay OWNER relay" || return 1
	PAT_CONNINFO="host=127.0.0.1,127.0.0.1 port=${PAT_PG[1]},${PAT_PG[2]}"
	PAT_CONNINFO+=" dbname=relay user=relay password=$PAT_PW"
	PAT_CONNINFO+=" target_session_attrs=read-write"
	return 0
}
# pat_logs: the tail of every log, for a failure's diagnostics
pat_logs() {
	[ -n "$PAT_DIR" ] && [ -d "$PAT_DIR" ] || return 0
	tail -n "${1:-5}" "$PAT_DIR"/etcd/log "$PAT_DIR"/n*/patroni.log \
		"$PAT_DIR"/n*/pglog/postgresql.log 2>/dev/null
}
# everything at once and no waiting first: a test killed for its
# timeout gets a moment only
pat_stop() {
	local i pids=
	for i in 1 2; do
		[ -n "$PAT_DIR" ] || break
		pids+=" $(pat_node_pids "$i")"
	done
	pids+=" ${PAT_PID[0]:-}"
	# shellcheck disable=SC2086
	[ -n "${pids// /}" ] && kill -KILL $pids 2>/dev/null
	for i in 0 1 2; do
		[ -n "${PAT_PID[$i]:-}" ] && wait "${PAT_PID[$i]}" 2>/dev/null
		PAT_PID[$i]=
	done
	for i in 1 2; do pat_node_unhole "$i"; done
	nft delete table inet tfpatmark 2>/dev/null
	# the cgroups, once their last process is gone (a dying one may
	# take a moment)
	for i in 1 2; do
		[ -n "$PAT_CG2" ] && [ -d "$PAT_CG2/$(pat_cg "$i")" ] || continue
		for _ in $(seq 50); do
			rmdir "$PAT_CG2/$(pat_cg "$i")" 2>/dev/null && break
			sleep 0.1
		done
	done
	if [ -n "$PAT_DIR" ] && [ -d "$PAT_DIR" ] && [ -z "${KEEP_PAT:-}" ]; then
		rm -rf "$PAT_DIR"
	fi
	PAT_DIR=
}
