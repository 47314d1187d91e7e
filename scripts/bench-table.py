#!/usr/bin/env python3
"""Prints a benchmark script's table and puts it into BENCHMARKS.md, between that script's
markers.

    bench-table.py NAME "SECTION TITLE" < TABLE

The text between <!-- NAME:begin --> and <!-- NAME:end --> is replaced by the table read from
standard input; a file without those markers gets a new section with the title at its end.
"""
import pathlib
import re
import sys

name, title = sys.argv[1], sys.argv[2]
table = sys.stdin.read().rstrip("\n")
print(table)
path = pathlib.Path("BENCHMARKS.md")
text = path.read_text() if path.exists() else "# Benchmarks\n"
begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
block = f"{begin}\n{table}\n{end}"
if begin in text:
    text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
else:
    text += f"\n## {title}\n\n{block}\n"
path.write_text(text)
