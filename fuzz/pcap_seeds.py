#!/usr/bin/env python3
"""Extracts BGP messages from capture files into fuzz seeds (run once; the output is
committed). Format-agnostic: scans for the 16-byte all-ones marker, so it works on pcap
and pcapng alike and skips messages split across TCP segments.

usage: fuzz/pcap_seeds.py CAPTURE... (writes fuzz/corpus/{message,attributes}/pcap-*)
"""
import hashlib, os, sys

MARKER = b"\xff" * 16
root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, data):
    os.makedirs(os.path.join(root, target), exist_ok=True)
    name = "pcap-" + hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(root, target, name), "wb") as f:
        f.write(data)


for path in sys.argv[1:]:
    if not os.path.isfile(path):
        continue
    blob = open(path, "rb").read()
    i = blob.find(MARKER)
    while i >= 0:
        hdr = blob[i : i + 19]
        if len(hdr) == 19:
            n, kind = int.from_bytes(hdr[16:18], "big"), hdr[18]
            msg = blob[i : i + n]
            if 19 <= n <= 4096 and 1 <= kind <= 5 and len(msg) == n:
                # Context byte 1: 4-octet AS, what nearly every capture negotiated.
                write("message", b"\x01" + msg)
                if kind == 2 and n >= 23:
                    wl = int.from_bytes(msg[19:21], "big")
                    at = 21 + wl
                    al = int.from_bytes(msg[at : at + 2], "big")
                    section = msg[at + 2 : at + 2 + al]
                    if len(section) == al and al > 0:
                        write("attributes", b"\x01" + section)
                i += n
                i = blob.find(MARKER, i)
                continue
        i = blob.find(MARKER, i + 1)
