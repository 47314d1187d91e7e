#!/usr/bin/env python3
"""The way staging lists were made before catalog: walk the whole tree, fnmatch each name.

    oswalk.py ROOT PATTERN   (e.g. oswalk.py /eodc/products '*T60WWV*')

Kept as the baseline of scripts/bench-peers.sh.
"""
import fnmatch
import os
import sys

root, pattern = sys.argv[1], sys.argv[2]
out = []
for dirpath, dirnames, filenames in os.walk(root):
    for name in filenames:
        if fnmatch.fnmatch(name, pattern):
            out.append(os.path.join(dirpath, name))
sys.stdout.write("".join(p + "\n" for p in sorted(out)))
