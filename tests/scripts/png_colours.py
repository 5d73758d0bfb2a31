#!/usr/bin/env python3
# png_colours.py FILE: print how many distinct pixel colours a PNG has (counting stops at
# 1000), so that a test can tell a rendered page from a blank or one-colour picture.
# The standard library only (no PIL): the PNG specification (W3C, 2nd ed., sections 7
# and 9): chunks, zlib-compressed IDAT, one filter byte per scanline, filters 0-4.
import struct
import sys
import zlib


def main(path):
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        sys.exit("%s: not a PNG" % path)
    pos, idat, width = 8, [], None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
            if depth != 8 or ctype not in (2, 6) or interlace:
                sys.exit("%s: only 8-bit RGB/RGBA, not interlaced (depth %d type %d)"
                         % (path, depth, ctype))
            bpp = 3 if ctype == 2 else 4
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if width is None:
        sys.exit("%s: no IHDR" % path)
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    prev = bytearray(stride)
    colours = set()
    for y in range(height):
        off = y * (stride + 1)
        ftype, line = raw[off], bytearray(raw[off + 1:off + 1 + stride])
        if ftype == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xff
        elif ftype == 2:
            line = bytearray((a + b) & 0xff for a, b in zip(line, prev))
        elif ftype == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xff
        elif ftype == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b, c = prev[i], prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        elif ftype != 0:
            sys.exit("%s: scanline %d: filter type %d" % (path, y, ftype))
        if len(colours) < 1000:
            colours.update(bytes(line[i:i + bpp]) for i in range(0, stride, bpp))
        prev = line
    print(min(len(colours), 1000))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: png_colours.py FILE.png")
    main(sys.argv[1])
