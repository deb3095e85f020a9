#!/bin/sh
# SPDX-License-Identifier: ISC
# Runs one integration test in a network namespace of its own (lo up):
# twofoldd makes each nat persona's veth tfv<i>, sets ip_forward and its
# inet twofold table in the namespace it runs in, and a test must touch
# nothing of the host's network (nor collide with another run's daemon).
# unshare(1), never `ip netns exec`: that remounts /sys.
exec unshare --net -- sh -c 'ip link set lo up && exec "$0" "$@"' "$@"
