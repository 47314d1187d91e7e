#!/usr/bin/env python3
"""Writes a policy-scan-style list of N Sentinel products in the EODC layout, without creating
any file: `find -printf '%s %T@ %b %p\\n'` lines (size, mtime, 512-byte blocks, path).

    gen-list.py N > list.txt     (deterministic; about 80% of the products are on tape)

Used by scripts/bench-scale.sh to build 10,000,000-document indexes with --from-list.
"""
import random
import sys

n = int(sys.argv[1])
rng = random.Random(1)
letters = "CDEFGHJKLMNPQRSTUVWX"
tiles = sorted({"T%02d%s%s%s" % (rng.randint(1, 60), rng.choice(letters), rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ"),
                                  rng.choice("ABCDEFGHJKLMNPQRSTUV")) for _ in range(6000)} | {"T60WWV"})
root = "/eodc/products/copernicus.eu"
out = sys.stdout
write = out.write
for i in range(n):
    year = rng.randint(2015, 2025)
    month, day = rng.randint(1, 12), rng.randint(1, 28)
    hh, mm, ss = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59)
    stamp = "%04d%02d%02dT%02d%02d%02d" % (year, month, day, hh, mm, ss)
    stop = "%04d%02d%02dT%02d%02d%02d" % (year, month, day, hh, mm, min(ss + 25, 59))
    kind = rng.random()
    if kind < 0.55:
        sat = rng.choice(("S2A", "S2B"))
        product = rng.choice(("MSIL1C", "MSIL2A"))
        name = "%s_%s_%s_N%04d_R%03d_%s_%s.zip" % (sat, product, stamp, rng.choice((204, 400, 500, 509, 510)),
                                                   rng.randint(1, 143), rng.choice(tiles), stop)
        collection = "%s_prd_%s" % (sat.lower(), product.lower())
        size = rng.randint(500_000_000, 1_200_000_000)
    elif kind < 0.8:
        sat = rng.choice(("S1A", "S1B"))
        mode = rng.choice(("IW", "IW", "IW", "EW", "WV", "S3"))
        product = rng.choice(("GRDH", "SLC_", "RAW_", "OCN_"))
        absorbit = rng.randint(1000, 60000)
        name = "%s_%s_%s_1SDV_%s_%s_%06d_%06X_%04X.zip" % (sat, mode, product, stamp, stop, absorbit,
                                                          rng.randint(0, 0xFFFFFF), rng.randint(0, 0xFFFF))
        collection = "%s_csar_%s_%s" % (sat.lower(), product.lower().rstrip("_"), mode.lower())
        size = rng.randint(1_500_000_000, 8_000_000_000)
    elif kind < 0.92:
        sat = rng.choice(("S3A", "S3B"))
        product = rng.choice(("OL_1_EFR___", "SL_2_LST___", "SR_2_LAN___", "SY_2_SYN___"))
        name = "%s_%s_%s_%s_%04d%02d%02dT120000_0180_%03d_%03d_%04d_PS1_O_NT_004.SEN3" % (
            sat, product, stamp, stop, year, month, min(day + 1, 28), rng.randint(1, 99), rng.randint(1, 385),
            rng.randint(0, 3000))
        collection = "%s_%s" % (sat.lower(), product.rstrip("_").lower())
        size = rng.randint(300_000_000, 700_000_000)
    else:
        stream = rng.choice(("OFFL", "NRTI", "RPRO"))
        product = rng.choice(("L2__NO2___", "L2__O3____", "L2__CH4___", "L1B_RA_BD3"))
        name = "S5P_%s_%s_%s_%s_%05d_03_020500_%04d%02d%02dT000000.nc" % (
            stream, product, stamp, stop, rng.randint(1, 40000), year, month, min(day + 1, 28))
        collection = "s5p_%s_%s" % (stream.lower(), product.rstrip("_").lower())
        size = rng.randint(50_000_000, 500_000_000)
    blocks = 0 if rng.random() < 0.8 else size // 512
    write("%d %d.0000000000 %d %s/%s/%04d/%02d/%02d/%s\n" % (size, 1_600_000_000 + i, blocks, root, collection,
                                                             year, month, day, name))
