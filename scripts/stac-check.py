#!/usr/bin/env python3
"""Drives `catalog serve`'s STAC API with the real pystac-client, as a user's notebook would.

    stac-check.py URL COLLECTION DATETIME TILE

Searches COLLECTION over DATETIME (an interval such as 2017-01-01T00:00:00Z/2025-12-31T23:59:59Z)
for the Sentinel-2 tile TILE (e.g. T60WWV) with the query extension, pages through the results
five at a time, and prints the local path of every item's data asset, sorted, one per line.
tests/serve.rs compares them with `catalog query` for the same question.
"""
import sys

from pystac_client import Client

url, collection, datetime, tile = sys.argv[1:5]
client = Client.open(url)
search = client.search(
    collections=[collection],
    datetime=datetime,
    query={"grid:code": {"eq": f"MGRS-{tile.removeprefix('T')}"}},
    limit=5,
)
paths = sorted(item.assets["data"].href.removeprefix("file://") for item in search.items())
print("\n".join(paths))
