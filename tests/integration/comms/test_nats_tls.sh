#!/usr/bin/env bash
# Integration: relays authenticate to NATS and talk to it over TLS
# (src/relay/natsauth.c). In a network namespace of its own (the packet
# capture of its loopback holds this test's traffic only): a test CA and
# server / client certificates made with openssl; nats-server requiring
# TLS, a client certificate (verify) and a user with a password. Two
# relays sharing one SQLite store, running as nobody, with the password
# file and the client key 0600 root's (so they must be read before the
# privilege drop), one on a tls:// URL, one on nats:// with --nats-ca:
# a message and a FWD cross between them. Refused, each with one line:
# a wrong password, no client certificate, no CA (nats:// against the
# TLS server; tls:// without --nats-ca), another CA (even with the
# servers' CA in OpenSSL's default trust store), a host name the
# certificate does not name, a password file others can read, a
# password without TLS, a password in a URL, a libnats without TLS (nonatstls.c preloaded).
# With a NATS .creds file (operator mode, JWTs
# made by natsjwt.py: nsc is not packaged) the two relays work too; a
# user of an unknown account and a group-readable file are refused.
# The password is in no log, no /proc/PID/cmdline
# or environ, not on the wire; the capture of the relays' NATS traffic
# holds no "PUB twofold." / "MSG twofold." with TLS, and does without
# (the same relays on a plaintext server: the check can fail). TAP.
if [ -z "${NATSTLS_NETNS:-}" ]; then
	exec unshare --net env NATSTLS_NETNS=1 bash -c 'ip link set lo up && exec bash "$0" "$@"' "$0" "$@"
fi
. "$(dirname "$0")/../tap.sh"
: "${TWOFOLD_CA:?}" "${TWOFOLD_RELAY:?}" "${TWOFOLD_COMMS:?}" "${COMMSHARNESS:?}" "${NONATSTLS:?}"
command -v nats-server >/dev/null && command -v openssl >/dev/null || {
	echo "1..0 # SKIP nats-server or openssl missing (tools/deps.sh)"
	exit 0
}
PA=52993
PB=52994
NT=54331 # TLS + verify + users
NP=54332 # plaintext, no auth
NJ=54333 # TLS, operator mode (JWTs)
D=$(cd "$(dirname "$0")" && pwd)
. "$(dirname "$0")/commslib.sh"
. "$(dirname "$0")/natslib.sh"
RELAY_COMMON=(--user nobody)
NS1='' NS2='' NS3='' RA='' RB='' CP=''
upd() { BG_PIDS="$NS1 $NS2 $NS3 $RA $RB $CP ${SP[*]} ${HP:-}"; }
PW=zq81-nats-Pa55word

pki() { # a CA, the server's certificate (localhost, 127.0.0.1), a relay's
	local x="$W/pki" ext
	mkdir -m 700 "$x"
	for c in ca other; do
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 \
			-nodes -keyout "$x/$c.key" -out "$x/$c.pem" -days 2 \
			-subj "/CN=twofold test $c" 2>/dev/null || return 1
	done
	for c in server relay; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$x/$c.key" -out "$x/$c.csr" \
			-subj "/CN=$c" 2>/dev/null || return 1
	done
	ext="$x/server.ext"
	printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$ext"
	openssl x509 -req -in "$x/server.csr" -CA "$x/ca.pem" -CAkey "$x/ca.key" \
		-CAcreateserial -out "$x/server.pem" -days 2 -extfile "$ext" \
		2>/dev/null || return 1
	printf 'extendedKeyUsage=clientAuth\n' >"$x/relay.ext"
	openssl x509 -req -in "$x/relay.csr" -CA "$x/ca.pem" -CAkey "$x/ca.key" \
		-CAcreateserial -out "$x/relay.pem" -days 2 \
		-extfile "$x/relay.ext" 2>/dev/null || return 1
	chmod 600 "$x"/*.key
	chmod 644 "$x"/*.pem
}

nats_tls() { # on every address of the namespace (127.0.0.2 too)
	cat >"$W/nats-tls.conf" <<EOF
listen: 0.0.0.0:$NT
tls {
  cert_file: "$W/pki/server.pem"
  key_file: "$W/pki/server.key"
  ca_file: "$W/pki/ca.pem"
  verify: true
}
authorization {
  users = [ { user: relay, password: "$PW" } ]
}
EOF
	nats-server -c "$W/nats-tls.conf" -l "$W/nats-tls.log" &
}

# refused NAME URL [ARGS...]: a relay that must not start; its stderr
# in W/NAME.err (no -v: only what it says about the failure)
refused() {
	timeout -s KILL 30 "$TWOFOLD_RELAY" --listen 127.0.0.1:52999 \
		--key "$W/relay.key" --ca "$W/ca/ca.pub" \
		--store "$W/neg.db" --nats "$2" "${@:3}" \
		>"$W/$1.out" 2>"$W/$1.err"
	echo $? >"$W/$1.rc"
}
# one_line NAME TEXT: exit 1, one line on stderr, holding TEXT
one_line() {
	[ "$(cat "$W/$1.rc")" = 1 ] && [ "$(wc -l <"$W/$1.err")" = 1 ] &&
		grep -q -- "$2" "$W/$1.err" && ! grep -q ready "$W/$1.out"
}
fwd_across() { # fwd_across TAG: dave (A) -> carol (B)
	printf 'wait\n' | dev_at carol $PB >"$W/carol.out" 2>&1 &
	HP=$!
	upd
	wait_for "$W/carol.out" connected
	sleep 0.3
	printf 'fwd carol %s-1\necho a\nfwd carol %s-2\n' "$1" "$1" |
		dev_at dave $PA >"$W/dave.out" 2>&1
	wait $HP
	HP=
	upd
	grep -q "^from dave/[A-Za-z0-9._@-]* $1-" "$W/carol.out"
}
capture() { # capture FILE: start pcap_lo.py on lo
	python3 "$D/pcap_lo.py" lo "$1" >"$W/pcap.out" 2>"$W/pcap.log" &
	CP=$!
	upd
	wait_for "$W/pcap.out" capturing
}
capture_stop() {
	kill -TERM "$CP" 2>/dev/null
	wait "$CP" 2>/dev/null
	CP=
	upd
}
stop_relays() {
	kill -TERM "$RA" "$RB" 2>/dev/null
	wait "$RA" 2>/dev/null
	ra=$?
	wait "$RB" 2>/dev/null
	rb=$?
	RA='' RB=''
	upd
}
verbs() { # verbs FILE: NATS protocol verbs of our subjects in clear
	grep -a -c -E "(PUB|MSG) twofold\." "$1"
}

comms_world intl carol dave
chmod 755 "$W"
mkdir -m 700 "$W/db"
chown nobody:nogroup "$W/db"
pki
ok $? "a test CA, the server's and a relay's certificates (openssl)"
# root's alone: the relays (nobody) read them before the drop
printf 'relay:%s\n' "$PW" >"$W/nats.pw"
chmod 600 "$W/nats.pw"
printf 'relay:not-%s\n' "$PW" >"$W/wrong.pw"
chmod 600 "$W/wrong.pw"
P="$W/pki"
TLSARGS=(--nats-ca "$P/ca.pem" --nats-cert "$P/relay.pem" --nats-key "$P/relay.key")

nats_tls
NS1=$!
upd
wait_for "$W/nats-tls.log" "Server is ready"
ok $? "nats-server: TLS required, client certificates verified, a user" \
	"$(tail -5 "$W/nats-tls.log")"

capture "$W/tls.pcap"
ok $? "capturing the namespace's loopback" "$(cat "$W/pcap.log")"
# A on a tls:// URL, B on nats:// with --nats-ca (both turn TLS on);
# one after the other: the first creates the store's schema
relay_at A $PA "tls://localhost:$NT" "${TLSARGS[@]}" --nats-user-file "$W/nats.pw"
RA=$!
upd
wait_for "$W/A.out" ready
relay_at B $PB "nats://localhost:$NT" "${TLSARGS[@]}" --nats-user-file "$W/nats.pw"
RB=$!
upd
wait_for "$W/A.out" ready && wait_for "$W/B.out" ready
ok $? "two relays (as nobody) on the TLS server, with a password and a client certificate" \
	"$(cat "$W/A.log" "$W/B.log") / $(tail -5 "$W/nats-tls.log")"

svc_at bob $PB
wait_status bob "relay connected" && [ -f "$W/bob/published" ]
ok $? "bob connects to relay B" "$(cat "$W/bob.log")"
svc_at alice $PA
wait_status alice "relay connected"
ok $? "alice connects to relay A" "$(cat "$W/alice.log")"
cm alice msg send bob "hello over TLS" >/dev/null
wait_read bob 1
has "from alice: hello over TLS" "$(cat "$W/bob.read")"
ok $? "alice (relay A) -> bob (relay B): a message across relays over TLS" \
	"$(cat "$W/bob.read") / $(tail -3 "$W/B.log")"
fwd_across tls
ok $? "a FWD from a device on relay A reaches a device on relay B over TLS" \
	"$(cat "$W/carol.out") / $(cat "$W/dave.out")"
sleep 2 # talk-group hellos (every 1 s) cross too
capture_stop

leak=
for p in $RA $RB; do
	for f in cmdline environ; do
		# read first: a file we cannot read must not pass as clean
		c=$(tr '\0' '\n' <"/proc/$p/$f") && [ -n "$c" ] || leak+=" $p/$f:unread"
		grep -a -q -- "$PW" <<<"$c" && leak+=" $p/$f"
	done
done
grep -a -q -- "$PW" "$W/A.log" "$W/B.log" "$W/A.out" "$W/B.out" && leak+=" logs"
grep -a -q -- "$PW" "$W/tls.pcap" && leak+=" wire"
[ -z "$leak" ]
ok $? "the password is in no log, cmdline or environ, nor on the wire" "$leak"
n=$(verbs "$W/tls.pcap")
[ "$n" = 0 ] && [ "$(stat -c %s "$W/tls.pcap")" -gt 10000 ]
ok $? "TLS: the relays' NATS traffic holds no PUB/MSG twofold.* in clear ($n)" \
	"$(stat -c %s "$W/tls.pcap") bytes"
stop_relays
[ $ra = 0 ] && [ $rb = 0 ]
ok $? "both relays exit cleanly ($ra, $rb)"

# ---- refused, each with one line ----
refused wrongpw "tls://localhost:$NT" "${TLSARGS[@]}" --nats-user-file "$W/wrong.pw"
one_line wrongpw "refused this relay"
ok $? "a wrong password: refused with one line" "$(cat "$W/wrongpw.err")"
! grep -a -q -- "$PW" "$W/wrongpw.err"
ok $? "the refusal names no password"
refused nocert "tls://localhost:$NT" --nats-ca "$P/ca.pem" --nats-user-file "$W/nats.pw"
one_line nocert "closed the connection.*client certificate"
ok $? "no client certificate (the server verifies): refused with one line" \
	"$(cat "$W/nocert.err")"
refused noca "nats://localhost:$NT"
one_line noca "requires TLS: give --nats-ca"
ok $? "no CA, nats:// against the TLS server: one line" "$(cat "$W/noca.err")"
refused tlsnoca "tls://localhost:$NT" --nats-user-file "$W/nats.pw"
one_line tlsnoca "needs --nats-ca"
ok $? "tls:// without --nats-ca: one line" "$(cat "$W/tlsnoca.err")"
refused otherca "tls://localhost:$NT" --nats-ca "$P/other.pem" \
	--nats-cert "$P/relay.pem" --nats-key "$P/relay.key" --nats-user-file "$W/nats.pw"
one_line otherca "TLS failed: .*unable to get local issuer"
ok $? "trusting another CA: refused with one line" "$(cat "$W/otherca.err")"
# OpenSSL's default trust store (the system's CAs) holds the servers' CA:
# still only --nats-ca counts
SSL_CERT_FILE="$P/ca.pem" SSL_CERT_DIR="$P" refused sysca "tls://localhost:$NT" \
	--nats-ca "$P/other.pem" --nats-cert "$P/relay.pem" \
	--nats-key "$P/relay.key" --nats-user-file "$W/nats.pw"
one_line sysca "TLS failed"
ok $? "the system trust store is not trusted, only --nats-ca" "$(cat "$W/sysca.err")"
refused badhost "tls://127.0.0.2:$NT" "${TLSARGS[@]}" --nats-user-file "$W/nats.pw"
one_line badhost "TLS failed: .*address mismatch"
ok $? "a host name the server's certificate does not name: refused" \
	"$(cat "$W/badhost.err")"
chmod 644 "$W/nats.pw"
refused worldpw "tls://localhost:$NT" "${TLSARGS[@]}" --nats-user-file "$W/nats.pw"
chmod 600 "$W/nats.pw"
one_line worldpw "other users can read it (mode 0644): chmod 600"
ok $? "a password file others can read: refused" "$(cat "$W/worldpw.err")"
refused cleartext "nats://localhost:$NP" --nats-user-file "$W/nats.pw"
one_line cleartext "password in clear"
ok $? "a password without TLS: refused" "$(cat "$W/cleartext.err")"
LD_PRELOAD="$NONATSTLS" refused notls "tls://localhost:$NT" "${TLSARGS[@]}" \
	--nats-user-file "$W/nats.pw"
one_line notls "built without TLS"
ok $? "a libnats without TLS (nonatstls.so): refused with one line" \
	"$(cat "$W/notls.err")"
refused inurl "tls://relay:$PW@localhost:$NT" "${TLSARGS[@]}"
one_line inurl "a URL holds credentials" && ! grep -q -- "$PW" "$W/inurl.err"
ok $? "a password in a URL: refused, and not echoed" "$(cat "$W/inurl.err")"
refused keyonly "tls://localhost:$NT" --nats-ca "$P/ca.pem" --nats-key "$P/relay.key"
one_line keyonly "go together"
ok $? "--nats-key without --nats-cert: one line" "$(cat "$W/keyonly.err")"

# ---- a NATS .creds file (user JWT + nkey seed): operator mode ----
mkdir -m 700 "$W/jwt"
python3 "$D/natsjwt.py" "$W/jwt"
ok $? "an operator, an account and users as nkeys and JWTs (natsjwt.py)"
cat >"$W/nats-jwt.conf" <<EOF
listen: 127.0.0.1:$NJ
operator: "$W/jwt/op.jwt"
resolver: MEMORY
resolver_preload: {
  $(cat "$W/jwt/account.pub"): "$(cat "$W/jwt/account.jwt")"
}
tls {
  cert_file: "$W/pki/server.pem"
  key_file: "$W/pki/server.key"
}
EOF
nats-server -c "$W/nats-jwt.conf" -l "$W/nats-jwt.log" &
NS3=$!
upd
wait_for "$W/nats-jwt.log" "Server is ready"
ok $? "nats-server in operator mode (TLS, the account preloaded)" \
	"$(tail -5 "$W/nats-jwt.log")"
relay_at A $PA "tls://localhost:$NJ" --nats-ca "$P/ca.pem" --nats-creds "$W/jwt/user.creds"
RA=$!
upd
relay_at B $PB "tls://localhost:$NJ" --nats-ca "$P/ca.pem" --nats-creds "$W/jwt/user.creds"
RB=$!
upd
wait_for "$W/A.out" ready && wait_for "$W/B.out" ready
ok $? "two relays with --nats-creds (root's 0600 file, relays as nobody)" \
	"$(tail -3 "$W/A.log") / $(tail -5 "$W/nats-jwt.log")"
fwd_across creds
ok $? "a FWD across them" "$(cat "$W/carol.out") / $(cat "$W/dave.out")"
seed=$(grep -A1 'BEGIN USER NKEY SEED' "$W/jwt/user.creds" | tail -1)
leak=
[ ${#seed} -gt 50 ] || leak+=" no-seed"
for p in $RA $RB; do
	grep -a -q -- "$seed" "/proc/$p/cmdline" && leak+=" $p"
done
grep -a -q -- "$seed" "$W/A.log" "$W/B.log" && leak+=" logs"
[ -z "$leak" ]
ok $? "the nkey seed is in no log or cmdline" "$leak"
stop_relays
[ $ra = 0 ] && [ $rb = 0 ]
ok $? "both relays exit cleanly ($ra, $rb)"
refused stray "tls://localhost:$NJ" --nats-ca "$P/ca.pem" --nats-creds "$W/jwt/other.creds"
one_line stray "refused this relay.*--nats-creds"
ok $? "a user of an account the server does not know: refused" "$(cat "$W/stray.err")"
chmod 640 "$W/jwt/user.creds"
refused groupcreds "tls://localhost:$NJ" --nats-ca "$P/ca.pem" --nats-creds "$W/jwt/user.creds"
chmod 600 "$W/jwt/user.creds"
one_line groupcreds "other users can read it (mode 0640)"
ok $? "a .creds file its group can read: refused" "$(cat "$W/groupcreds.err")"
kill "$NS3"
wait "$NS3" 2>/dev/null
NS3=
upd

# ---- the same relays on a plaintext server: the verbs are there ----
nats-server -a 127.0.0.1 -p $NP -l "$W/nats-plain.log" &
NS2=$!
upd
wait_for "$W/nats-plain.log" "Server is ready"
capture "$W/plain.pcap"
relay_at A $PA "nats://127.0.0.1:$NP"
RA=$!
upd
relay_at B $PB "nats://127.0.0.1:$NP"
RB=$!
upd
wait_for "$W/A.out" ready && wait_for "$W/B.out" ready
ok $? "the two relays again, on a plaintext server" "$(tail -3 "$W/A.log")"
fwd_across plain
ok $? "a FWD across them" "$(cat "$W/carol.out")"
sleep 2
capture_stop
n=$(verbs "$W/plain.pcap")
[ "$n" -gt 0 ]
ok $? "without TLS the capture holds PUB/MSG twofold.* in clear ($n): the check can fail"
stop_relays
[ $ra = 0 ] && [ $rb = 0 ]
ok $? "both relays exit cleanly ($ra, $rb)"
finish
