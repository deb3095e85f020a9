#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""What a recipient's drain got (storeload's "msg FROM SENDER:SEQ" lines)
against what SENDERS sent, PER messages each, numbered from 0: one line
"delivered N lost N duplicates N out-of-order N forged N" (the kill -9
and failover tests: test_killnine.sh, test_patroni.sh).

  drain_check.py DRAIN_OUT PER SENDER...
"""
import sys

path, per, senders = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
got = {s: [] for s in senders}
bad = 0
for line in open(path):
    _, frm, text = line.rstrip("\n").split(" ", 2)
    frm = frm.split("/", 1)[0]  # MSG names officer/device
    name, seq = text.split(":")
    if name != frm or frm not in got:
        bad += 1
        continue
    got[frm].append(int(seq))
lost = dups = disorder = 0
for s, seqs in got.items():
    lost += per - len(set(seqs))
    dups += len(seqs) - len(set(seqs))
    disorder += sum(1 for a, b in zip(seqs, seqs[1:]) if b <= a)
total = sum(len(set(v)) for v in got.values())
print(f"delivered {total} lost {lost} duplicates {dups} "
      f"out-of-order {disorder} forged {bad}")
