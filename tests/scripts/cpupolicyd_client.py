#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# An independent client of the cpupolicyd protocol (docs/cpupolicyd.md), written from the
# spec rather than from libcpupolicy, for tests/scripts/test_cpupolicyd.sh: well-formed
# calls, and the clients a daemon must survive (half frames, garbage, oversized frames,
# clients that vanish, hundreds at once).  Standard library only: runs as `nobody` too.
#
# usage: cpupolicyd_client.py SOCKET COMMAND [ARGS...]; prints results on stdout, exits 0
# when the exchange went as the command expects, 1 otherwise (with a reason on stderr).
import os
import socket
import struct
import sys

MAGIC = 0x50445043  # "CPDP"
VERSION = 1
HDR = struct.Struct("<IHHIIQ")  # magic, version, op, flags, len, id
MAX_PAYLOAD = 16384
OPS = {
    "hello": 1, "get_featureset": 2, "get_system_policy": 3, "get_levelling_caps": 4,
    "featureset_fits_max": 5, "domain_create": 6, "domain_start": 7, "domain_destroy": 8,
    "get_domain_policy": 9, "set_domain_policy": 10, "set_featureset": 11,
}
NR_QUERY = 0xFFFFFFFF


def die(msg):
    sys.stderr.write("cpupolicyd_client: %s\n" % msg)
    sys.exit(1)


def connect(path, timeout=10.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def frame(op, payload=b"", rid=1, version=VERSION, flags=0, length=None, magic=MAGIC):
    return HDR.pack(magic, version, op, flags, len(payload) if length is None else length,
                    rid) + payload


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def read_reply(s):
    """(op, id, rc, err(leaf, subleaf, msr), body) or None when the daemon closed."""
    h = recv_exact(s, HDR.size)
    if h is None:
        return None
    magic, version, op, flags, length, rid = HDR.unpack(h)
    if magic != MAGIC or version != VERSION or flags != 1 or length > MAX_PAYLOAD:
        die("bad reply header %r" % (HDR.unpack(h),))
    p = recv_exact(s, length)
    if p is None or length < 16:
        die("short reply")
    rc, leaf, subleaf, msr = struct.unpack("<iIII", p[:16])
    return op, rid, rc, (leaf, subleaf, msr), p[16:]


def call(s, opname, payload, rid=1):
    s.sendall(frame(OPS[opname], payload, rid))
    r = read_reply(s)
    if r is None:
        die("%s: daemon closed the connection" % opname)
    if r[0] != OPS[opname] or r[1] != rid:
        die("%s: reply op/id %d/%d" % (opname, r[0], r[1]))
    return r


def u32(*v):
    return struct.pack("<%dI" % len(v), *v)


def featureset(s, idx, rid=1):
    op, _, rc, _, body = call(s, "get_featureset", u32(idx, 64), rid)
    if rc != 0:
        return rc, []
    query, n = struct.unpack("<II", body[:8])
    return rc, list(struct.unpack("<%dI" % n, body[8:8 + 4 * n]))


def policy_lines(body):
    nl, nm = struct.unpack("<II", body[:8])
    out, off = [], 8
    for _ in range(nl):
        out.append("%08x:%08x -> %08x:%08x:%08x:%08x" % struct.unpack("<6I", body[off:off + 24]))
        off += 24
    for _ in range(nm):
        idx, flags, val = struct.unpack("<IIQ", body[off:off + 16])
        out.append("msr %08x -> %016x" % (idx, val))
        off += 16
    return out


def main():
    if len(sys.argv) < 3:
        die("usage: SOCKET COMMAND [ARGS...]")
    path, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]

    if cmd == "featureset":            # IDX -> rc and words in hex
        s = connect(path)
        rc, words = featureset(s, int(args[0]))
        print(rc, " ".join("%08x" % w for w in words))
    elif cmd == "vendor":              # leaf 0 EBX:EDX:ECX of the host policy
        s = connect(path)
        _, _, rc, _, body = call(s, "get_system_policy", u32(1))
        if rc != 0:
            die("get_system_policy rc %d" % rc)
        leaf, sub, a, b, c, d = struct.unpack("<6I", body[8:32])
        print(struct.pack("<III", b, d, c).decode("ascii", "replace"))
    elif cmd == "create":              # TYPE -> rc domid
        s = connect(path)
        _, _, rc, _, body = call(s, "domain_create", u32(int(args[0])))
        print(rc, struct.unpack("<I", body)[0] if rc == 0 else "-")
    elif cmd == "create-many":         # TYPE N -> "N created, domids A..B" (one connection)
        s = connect(path)
        ids = []
        for i in range(int(args[1])):
            _, _, rc, _, body = call(s, "domain_create", u32(int(args[0])), rid=i + 1)
            if rc != 0:
                die("create %d of %s: rc %d" % (i + 1, args[1], rc))
            ids.append(struct.unpack("<I", body)[0])
        print(len(ids), "created, domids %d..%d" % (ids[0], ids[-1]))
    elif cmd in ("start", "destroy"):  # DOMID -> rc
        s = connect(path)
        print(call(s, "domain_" + cmd, u32(int(args[0])))[2])
    elif cmd == "policy":              # DOMID -> rc, then the policy as lines
        s = connect(path)
        _, _, rc, _, body = call(s, "get_domain_policy", u32(int(args[0])))
        print(rc)
        if rc == 0:
            print("\n".join(policy_lines(body)))
    elif cmd == "clear-feature":       # DOMID FEATURE: host featureset minus one feature
        s = connect(path)
        rc, words = featureset(s, 2)   # pv-default
        if rc != 0:
            die("featureset rc %d" % rc)
        f = int(args[1])
        words[f // 32] &= ~(1 << (f % 32))
        _, _, rc, err, _ = call(s, "set_featureset", u32(int(args[0]), len(words), *words))
        print(rc)
    elif cmd == "half":                # half a request, then vanish without closing cleanly
        s = connect(path)
        f = frame(OPS["get_featureset"], u32(1, 64))
        s.sendall(f[: len(f) // 2])
        os._exit(0)
    elif cmd == "half-header":         # 10 header bytes, then vanish
        s = connect(path)
        s.sendall(frame(OPS["hello"], u32(1))[:10])
        os._exit(0)
    elif cmd == "hello":               # one hello: its rc, or "closed" when refused
        s = connect(path)
        try:
            s.sendall(frame(OPS["hello"], u32(VERSION)))
            r = read_reply(s)
        except OSError:                # reset or broken pipe: closed at accept
            r = None
        print("closed" if r is None else r[2])
    elif cmd == "hold":                # N SECONDS: N connections (hello on each), held open
        n, answered, socks = int(args[0]), 0, []
        for i in range(n):
            s = connect(path)
            try:
                s.sendall(frame(OPS["hello"], u32(VERSION), rid=i + 1))
                r = read_reply(s)
            except OSError:
                r = None
            if r is not None and r[2] == 0:
                answered += 1
                socks.append(s)
        print(answered, "held", flush=True)
        import time
        time.sleep(float(args[1]))
    elif cmd == "probe":               # can we connect at all? "connected" or the errno name
        try:
            connect(path).close()
            print("connected")
        except OSError as e:
            import errno
            print(errno.errorcode.get(e.errno, str(e.errno)))
    elif cmd == "stall":               # half a request, then wait: the daemon must time out
        s = connect(path, float(args[0]))
        f = frame(OPS["get_featureset"], u32(1, 64))
        s.sendall(f[:30])
        try:
            r = s.recv(1)
        except socket.timeout:
            die("daemon did not close a stalled connection within %s s" % args[0])
        print("closed" if r == b"" else "answered")
    elif cmd == "unread":              # a whole request, gone before the reply
        s = connect(path)
        s.sendall(frame(OPS["get_system_policy"], u32(0)))
        s.close()
    elif cmd == "garbage":             # random bytes: the daemon must close this connection
        s = connect(path)
        s.sendall(os.urandom(20) + b"\xff" * 200)
        try:
            r = s.recv(1)
        except ConnectionResetError:
            r = b""
        if r != b"":
            die("daemon answered garbage instead of closing")
        print("closed")
    elif cmd == "oversized":           # header announcing MAX_PAYLOAD + 1 bytes
        s = connect(path)
        s.sendall(frame(OPS["get_featureset"], b"", length=MAX_PAYLOAD + 1))
        r = read_reply(s)
        if r is None or r[2] != -90:   # -EMSGSIZE
            die("oversized: expected rc -90, got %r" % (r,))
        if s.recv(1) != b"":
            die("oversized: connection left open")
        print(r[2], "closed")
    elif cmd == "badversion":
        s = connect(path)
        s.sendall(frame(OPS["hello"], u32(1), version=2))
        r = read_reply(s)
        if r is None or r[2] != -93:   # -EPROTONOSUPPORT
            die("badversion: expected rc -93, got %r" % (r,))
        print(r[2])
    elif cmd == "malformed":           # well-framed but wrong payloads: answered, kept open
        s = connect(path)
        cases = [
            ("truncated get_featureset", frame(OPS["get_featureset"], u32(1)), -74),
            ("trailing bytes", frame(OPS["domain_start"], u32(1) + b"\0"), -74),
            ("words count 1000", frame(OPS["featureset_fits_max"], u32(1, 1000)), -7),
            ("leaves count 1e6", frame(OPS["set_domain_policy"], u32(1, 1000000, 0)), -7),
            ("policy bytes missing", frame(OPS["set_domain_policy"], u32(1, 2, 0)), -74),
            ("unknown op 99", frame(99, u32(1)), -95),
        ]
        for rid, (what, f, want) in enumerate(cases, 1):
            f = f[:16] + struct.pack("<Q", rid) + f[24:]
            s.sendall(f)
            r = read_reply(s)
            if r is None:
                die("%s: connection closed" % what)
            if r[2] != want or r[1] != rid:
                die("%s: expected rc %d id %d, got rc %d id %d" % (what, want, rid, r[2], r[1]))
            print("%s: %d" % (what, r[2]))
        rc, words = featureset(s, 1, rid=50)   # and the connection still works
        if rc != 0 or not words:
            die("featureset after malformed frames: rc %d" % rc)
        print("still answering")
    elif cmd == "concurrent":          # N connections open at once, one featureset each
        n = int(args[0])
        socks = [connect(path, 30.0) for _ in range(n)]
        for i, s in enumerate(socks):
            s.sendall(frame(OPS["get_featureset"], u32(1, 64), rid=i + 1))
        answers = set()
        for i, s in enumerate(socks):
            r = read_reply(s)
            if r is None or r[2] != 0 or r[1] != i + 1:
                die("client %d: bad answer %r" % (i, r))
            answers.add(r[4])
        for s in socks:
            s.close()
        if len(answers) != 1:
            die("%d different featuresets from one host" % len(answers))
        print(n, "clients, 1 distinct answer")
    elif cmd == "pipelined":           # N requests in one write, N replies in order
        n = int(args[0])
        s = connect(path)
        s.sendall(b"".join(frame(OPS["get_system_policy"], u32(i % 6), rid=i + 1)
                           for i in range(n)))
        for i in range(n):
            r = read_reply(s)
            if r is None or r[1] != i + 1 or r[2] != 0:
                die("pipelined reply %d: %r" % (i, r and r[:3]))
        print(n, "pipelined replies in order")
    else:
        die("unknown command " + cmd)


if __name__ == "__main__":
    main()
