#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# A bounded soak of cpupolicyd (`make soak SOAK_SECONDS=N`, docs/cpupolicyd.md "Soak"):
# client threads create, change, start and destroy domains while the daemon is SIGKILLed
# and restarted, and now and then its state file is damaged while it is down.  Every
# change the daemon acknowledged (rc 0) is recorded; after each restart every recorded
# domain is read back.  A change acknowledged and then not found is "lost": must be 0.
# A damaged state file must be refused (exit 3) and moved aside; the soak then puts the
# good copy back.  Standard library only; the protocol client is cpupolicyd_client.py.
#
# usage: soak_cpupolicyd.py DAEMON DUMP SECONDS [CLIENTS]
import os, random, shutil, signal, socket, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts"))
import cpupolicyd_client as cl  # noqa: E402

daemon, dump, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
nr_clients = int(sys.argv[4]) if len(sys.argv) > 4 else 4
T = tempfile.mkdtemp(prefix="soak_cpupolicyd.")
SOCK, STATE = os.path.join(T, "d.sock"), os.path.join(T, "state")
LOG = os.path.join(T, "d.log")
os.mkdir(STATE)

lock = threading.Lock()
# domid -> {"cleared": set of features, "started": bool}; only acknowledged changes.
model, destroyed, uncertain = {}, set(), set()
stats = {"calls": 0, "acked": 0, "lost": 0, "restarts": 0, "corruptions": 0,
         "corruptions_refused": 0, "transport_errors": 0}
stop = threading.Event()
proc = None
# Each client holds one permit for a call and its bookkeeping; verification takes them all,
# so it never sees a change the daemon made but the client has not recorded yet.
gate = threading.Semaphore(nr_clients)
running = threading.Event()  # cleared while verifying: clients wait before their next call
running.set()


def start_daemon():
    global proc
    proc = subprocess.Popen([daemon, "--socket", SOCK, "--dump", dump, "--state-dir", STATE,
                             "--log", LOG])
    # The killed daemon's socket is still there (stale): wait until one answers.
    for _ in range(500):
        if proc.poll() is not None:
            return False
        try:
            cl.connect(SOCK, 1.0).close()
            return True
        except OSError:
            time.sleep(0.02)
    return False


def call(s, op, payload, rid):
    s.sendall(cl.frame(cl.OPS[op], payload, rid))
    r = cl.read_reply(s)
    if r is None:
        raise OSError("closed")
    return r


def client(seed):
    rnd = random.Random(seed)
    rid, s = 0, None
    mine = []
    cur = None  # the domain the call in flight is about
    while not stop.is_set():
        running.wait()
        gate.acquire()
        try:
            if s is None:
                s = cl.connect(SOCK, 5.0)
            rid += 1
            cur = None
            choice = rnd.random()
            with lock:
                stats["calls"] += 1
            if choice < 0.3 or not mine:
                _, _, rc, _, body = call(s, "domain_create", cl.u32(rnd.randint(0, 1)), rid)
                if rc == 0:
                    d = int.from_bytes(body[:4], "little")
                    with lock:
                        model[d] = {"cleared": set(), "started": False}
                        stats["acked"] += 1
                    mine.append(d)
            elif choice < 0.6:
                d = cur = rnd.choice(mine)
                f = rnd.choice([60, 52, 57, 25])  # avx, sse4.2, x2apic... features of word 1
                _, _, rc, _, body = call(s, "get_featureset", cl.u32(2, 64), rid)
                words = list(int.from_bytes(body[8 + 4 * i:12 + 4 * i], "little")
                             for i in range(int.from_bytes(body[4:8], "little")))
                with lock:
                    cleared = set(model.get(d, {}).get("cleared", set())) | {f}
                for c in cleared:
                    words[c // 32] &= ~(1 << (c % 32))
                rid += 1
                _, _, rc, _, _ = call(s, "set_featureset", cl.u32(d, len(words), *words), rid)
                if rc == 0:
                    with lock:
                        if d in model:
                            model[d]["cleared"] = cleared
                        stats["acked"] += 1
            elif choice < 0.75:
                d = cur = rnd.choice(mine)
                _, _, rc, _, _ = call(s, "domain_start", cl.u32(d), rid)
                if rc == 0:
                    with lock:
                        if d in model:
                            model[d]["started"] = True
                        stats["acked"] += 1
            else:
                d = cur = mine.pop(rnd.randrange(len(mine)))
                _, _, rc, _, _ = call(s, "domain_destroy", cl.u32(d), rid)
                if rc == 0:
                    with lock:
                        model.pop(d, None)
                        destroyed.add(d)
                        stats["acked"] += 1
        except (OSError, SystemExit):
            # No reply: the change may or may not have happened; not acknowledged.
            with lock:
                stats["transport_errors"] += 1
                if cur is not None:
                    uncertain.add(cur)
            s = None
            time.sleep(0.05)
        finally:
            gate.release()


def verify():
    """Every acknowledged change is there after a restart."""
    running.clear()
    for _ in range(nr_clients):
        gate.acquire()
    try:
        return verify_paused()
    finally:
        for _ in range(nr_clients):
            gate.release()
        running.set()


def verify_paused():
    s = cl.connect(SOCK, 10.0)
    lost = 0
    with lock:
        snapshot = {d: dict(v) for d, v in model.items()}
        gone = set(destroyed)
        unsure = set(uncertain)
    for rid, (d, want) in enumerate(sorted(snapshot.items()), 1):
        _, _, rc, _, body = call(s, "get_domain_policy", cl.u32(d), rid)
        with lock:  # clients keep running: destroyed (acknowledged) since the snapshot?
            if d not in model or d in uncertain:
                continue
        if rc != 0:
            if d not in unsure:  # a destroy whose reply was lost may have happened
                lost += 1
                print("LOST: domain %d (rc %d)" % (d, rc))
            continue
        leaf1 = [l for l in cl.policy_lines(body) if l.startswith("00000001:ffffffff")]
        ecx = int(leaf1[0].split(":")[3], 16) if leaf1 else 0
        for f in want["cleared"]:
            if f // 32 == 1 and ecx >> (f % 32) & 1 and d not in unsure:
                lost += 1
                print("LOST: domain %d: feature %d set again" % (d, f))
    for rid, d in enumerate(sorted(gone - set(snapshot) - unsure), 10000):
        _, _, rc, _, _ = call(s, "get_domain_policy", cl.u32(d), rid)
        if rc == 0:
            lost += 1
            print("LOST: destroyed domain %d is back" % d)
    s.close()
    with lock:
        # A domain whose call got no reply is no longer tracked: its state is whatever
        # the daemon kept, neither acknowledged nor lost.
        for d in unsure:
            model.pop(d, None)
            destroyed.discard(d)
        uncertain.difference_update(unsure)
    return lost


def main():
    if not start_daemon():
        print("daemon did not start"); return 1
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(nr_clients)]
    for t in threads:
        t.start()
    end = time.time() + seconds
    rnd = random.Random(99)
    while time.time() < end:
        time.sleep(min(rnd.uniform(0.5, 1.5), max(0.0, end - time.time())))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        stats["restarts"] += 1
        path = os.path.join(STATE, "domains.state")
        if stats["restarts"] % 3 == 0 and os.path.exists(path):
            good = open(path, "rb").read()
            bad = bytearray(good)
            bad[rnd.randrange(len(bad))] ^= 1 << rnd.randrange(8)
            open(path, "wb").write(bad)
            stats["corruptions"] += 1
            r = subprocess.run([daemon, "--socket", SOCK, "--dump", dump, "--state-dir", STATE,
                                "--log", LOG], timeout=30)
            if r.returncode == 3 and not os.path.exists(path):
                stats["corruptions_refused"] += 1
            open(path, "wb").write(good)  # the operator puts the good copy back
        if not start_daemon():
            print("daemon did not restart; log:"); os.system("tail -5 " + LOG); return 1
        stats["lost"] += verify()
    stop.set()
    for t in threads:
        t.join(timeout=10)
    stats["lost"] += verify()
    proc.send_signal(signal.SIGTERM)
    proc.wait()
    print("soak: %.0f s, %d clients: %d calls, %d acknowledged changes, %d lost changes; "
          "%d SIGKILL restarts, %d corrupted state files, %d refused; %d calls without a reply"
          % (seconds, nr_clients, stats["calls"], stats["acked"], stats["lost"],
             stats["restarts"], stats["corruptions"], stats["corruptions_refused"],
             stats["transport_errors"]))
    shutil.rmtree(T, ignore_errors=True)
    ok = stats["lost"] == 0 and stats["corruptions_refused"] == stats["corruptions"]
    return 0 if ok else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        if proc and proc.poll() is None:
            proc.kill()
