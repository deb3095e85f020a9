/* SPDX-License-Identifier: ISC */
/*
 * The TCP fallback's framing (tcp.c, docs/comms-protocol.md "TCP
 * fallback"): every channel datagram preceded by its big-endian u16
 * length. Pure code, no I/O: what an unauthenticated peer sends is split
 * here, so it is fuzzed on its own (fuzz/fuzz_relay_frames.c).
 */
#ifndef TWOFOLD_RELAY_FRAME_H
#define TWOFOLD_RELAY_FRAME_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "twofold/common.h"

/* Calls fn for every complete frame at the start of buf[0..len), in
 * order (the frame points into buf). Returns the bytes consumed, whole
 * frames only (a partial frame stays for the next read), or -EBADMSG at
 * a length of 0 or above max (not our framing: close the connection;
 * the frames before it were delivered). */
TF_WUR ssize_t relay_frames_split(const uint8_t *buf, size_t len, size_t max,
				  void (*fn)(void *arg, const uint8_t *frame,
					     size_t n),
				  void *arg) TF_NONNULL(4);

#endif
