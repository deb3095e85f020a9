#!/usr/bin/env bash
# SPDX-License-Identifier: ISC
# twofold-shell: what a client may bind depends only on the socket it came
# through. Persona clients get an ordinary app's globals and nothing that
# reads or injects other clients' content; the host socket's trusted tools
# get screencopy, data-control and virtual-keyboard. Hidden globals cannot
# be bound by a guessed name either. The sockets are 0600 and chowned to
# the persona's uid; a flood on one persona's socket leaves the others
# working.
. "$(dirname "$0")/../tap.sh"
. "$(dirname "$0")/lib.sh"

start_shell --persona-uid personal=4242 || bail "shell did not start"

forbidden="zwlr_screencopy_manager_v1 zwlr_data_control_manager_v1
zwp_virtual_keyboard_manager_v1 zwlr_virtual_pointer_manager_v1
zwlr_export_dmabuf_manager_v1 zwp_input_method_manager_v2
zwlr_gamma_control_manager_v1 zwlr_output_manager_v1 zwlr_layer_shell_v1
zwp_primary_selection_device_manager_v1 gtk_primary_selection_device_manager
zwlr_foreign_toplevel_manager_v1 zwp_linux_dmabuf_v1 wl_drm
zwlr_input_inhibit_manager_v1 zwp_keyboard_shortcuts_inhibit_manager_v1"

for p in personal secure; do
	sock=$P_SOCK
	[ $p = secure ] && sock=$S_SOCK
	g=$(on "$sock" "$SHELLCLIENT" globals)
	has wl_compositor "$g" && has xdg_wm_base "$g" && has wl_seat "$g" &&
		has wl_shm "$g" && has wl_data_device_manager "$g" && has wl_output "$g"
	ok $? "$p client sees what an app needs" "$g"
	bad=
	for f in $forbidden; do
		has "$f" "$g" && bad="$bad $f"
	done
	[ -z "$bad" ]
	ok $? "$p client sees no capture, clipboard-manager, injection or shell global" "offered:$bad"
	for f in zwlr_screencopy_manager_v1 zwlr_data_control_manager_v1 zwp_virtual_keyboard_manager_v1 zwlr_virtual_pointer_manager_v1; do
		out=$(on "$sock" "$SHELLCLIENT" guess $f 2>/dev/null)
		[ $? != 0 ]
		ok $? "$p client cannot bind $f under any global name" "$out"
	done
done

g=$(on "$H_SOCK" "$SHELLCLIENT" globals)
has zwlr_screencopy_manager_v1 "$g" && has zwlr_data_control_manager_v1 "$g" &&
	has zwp_virtual_keyboard_manager_v1 "$g" && has zwlr_virtual_pointer_manager_v1 "$g"
ok $? "the host socket offers screencopy, data-control, virtual-keyboard and virtual-pointer" "$g"
on "$H_SOCK" "$SHELLCLIENT" guess zwlr_screencopy_manager_v1 >/dev/null 2>&1
ok $? "the guessing client does bind screencopy on the host socket (the check above can fail)"

on "$P_SOCK" grim -t ppm "$SH_DIR/p.ppm" >/dev/null 2>&1
[ $? != 0 ] && [ ! -s "$SH_DIR/p.ppm" ]
ok $? "grim on the personal socket fails"
on "$S_SOCK" grim -t ppm "$SH_DIR/s.ppm" >/dev/null 2>&1
[ $? != 0 ]
ok $? "grim on the secure socket fails"
on "$H_SOCK" grim -t ppm "$SH_DIR/h.ppm" && [ -s "$SH_DIR/h.ppm" ]
ok $? "grim on the host socket works"
on "$P_SOCK" wl-paste --primary >/dev/null 2>&1
[ $? != 0 ]
ok $? "wl-paste --primary on the personal socket fails"
on "$P_SOCK" wtype x >/dev/null 2>&1
[ $? != 0 ]
ok $? "wtype on the personal socket fails (no virtual keyboard)"

m=$(stat -c '%a %u' "$P_SOCK" "$S_SOCK" "$H_SOCK" "$C_SOCK" | tr '\n' ' ')
[ "$m" = "600 4242 600 0 600 0 600 0 " ]
ok $? "sockets are 0600, the personal one owned by its --persona-uid" "$m"

# a flood of connections on the personal socket: the shell refuses the
# excess there and keeps serving secure and the host
python3 - "$P_SOCK" "$SH_DIR/flood.done" <<'PY' &
import os, socket, sys, time
conns = []
for _ in range(200):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sys.argv[1])
    except OSError:
        break
    conns.append(s)
open(sys.argv[2], "w").close()
time.sleep(30)
PY
FLOOD=$!
BG_PIDS="$BG_PIDS $FLOOD"
for _ in $(seq 100); do [ -e "$SH_DIR/flood.done" ] && break; sleep 0.05; done
g=$(on "$S_SOCK" "$SHELLCLIENT" globals)
has wl_compositor "$g"
ok $? "during a personal socket flood a secure client still connects"
on "$H_SOCK" grim -t ppm "$SH_DIR/h2.ppm"
ok $? "during the flood the host socket still works"
kill -0 "$SH_PID"
ok $? "the shell is still running"
kill "$FLOOD" 2>/dev/null
finish
