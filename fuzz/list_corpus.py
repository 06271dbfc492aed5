#!/usr/bin/env python3
"""fuzz/list_corpus.py DIR: print the regular files directly in DIR, one
name per line, sorted (nothing when DIR is missing). fuzz/meson.build turns
each into a fuzz-regress test at configure time."""
import os
import sys

d = sys.argv[1]
if os.path.isdir(d):
    for name in sorted(os.listdir(d)):
        if not name.startswith(".") and os.path.isfile(os.path.join(d, name)):
            print(name)
