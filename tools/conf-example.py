#!/usr/bin/env python3
# The example device.conf that `meson install` ships: the fenced block of
# twofold-config(5)'s EXAMPLE section, so the page and the file agree.
#   conf-example.py docs/twofold-config.5.md OUT
import os
import sys

text = open(sys.argv[1], encoding="utf-8").read()
if "\n## EXAMPLE\n" not in text:
    sys.exit("conf-example: no '## EXAMPLE' section in " + sys.argv[1])
block = text.split("\n## EXAMPLE\n", 1)[1].split("\n```\n", 2)[1]
tmp = sys.argv[2] + ".tmp"
with open(tmp, "w", encoding="utf-8") as f:
    f.write(block + "\n")
os.replace(tmp, sys.argv[2])
