#!/usr/bin/python3
"""A hostile PCP server (RFC 6887) for the PCP client's tests.

    hostile_pcp.py MODE ADDR [OTHER_ADDR [ADDR6%IF OTHER_ADDR6]] [--delay MS]
                                             prints "PORT 5351" once listening.

It listens on ADDR:5351 (run it in the router's namespace, on the gateway's
LAN address, with miniupnpd stopped). ANNOUNCE requests are answered
correctly (so the client finds a PCP gateway) unless MODE says otherwise;
MAP requests get what MODE says:
  ok             a plausible server: grants what is asked, external 198.51.100.7
  garbage        random bytes of random length (0..1500), also to ANNOUNCE
  wrong-nonce    a well-formed SUCCESS for another nonce
  wrong-opcode   the answer carries opcode PEER; ANNOUNCE is answered as MAP
  wrong-port     a SUCCESS for another internal port
  other-address  correct answers, but sent from OTHER_ADDR:5351 and ADDR:5352
  short-life     grants lifetime 1 s
  epoch-reset    like ok, but every answer says epoch 0 (a router that
                 "reboots" all the time)
  flood          200 garbage datagrams, then a correct answer
  silent         never answers MAP (ANNOUNCE still answered)
  announce-flood like ok, and multicasts ANNOUNCE (epoch 0) 50 times a second
  busy-ip        like ok, but the first 2 MAPs of UDP port 9 (the client's
                 external-address probe) get NO_RESOURCES, as miniupnpd answers
                 during an address change
--delay sends every answer MS milliseconds after its request came (a slow
server; requests keep being read meanwhile).
With ADDR6%IF (the router's link-local address on its LAN interface) it also
listens over IPv6 there. other-address6 answers IPv4 like ok, IPv6 requests
like other-address (from OTHER_ADDR6:5351 and ADDR6:5352).
Every request is logged to stderr as "REQ op=<opcode> len=<n> lifetime=<s>
family=<f> waiting=<w>" (f: the socket's address family; w: requests whose
answer is not on its way yet, this one included)."""
import os
import socket
import struct
import sys
import threading
import time

EXT_IP = "198.51.100.7"
START = time.monotonic()
WAITING = [0]                    # requests whose answer is not sent yet
WAITING_LOCK = threading.Lock()


def v4mapped(ip):
    return b"\0" * 10 + b"\xff\xff" + socket.inet_aton(ip)


def epoch(mode):
    return 0 if mode == "epoch-reset" else int(time.monotonic() - START) + 100


def answer(req, mode, result=0, lifetime=None, opcode=None):
    """The reply to req as a conforming server writes it."""
    op = req[1] & 0x7f if opcode is None else opcode
    life = struct.unpack("!I", req[4:8])[0] if lifetime is None else lifetime
    hdr = struct.pack("!BBBBII", 2, 0x80 | op, 0, result, life, epoch(mode)) + b"\0" * 12
    if len(req) < 60 or (req[1] & 0x7f) != 1:
        return hdr
    body = bytearray(req[24:60])
    if body[18:20] == b"\0\0":
        body[18:20] = body[16:18]        # any port: the internal one
    body[20:36] = v4mapped(EXT_IP)
    return hdr + bytes(body) + req[60:]


BUSY = [2]


def reply_for(req, mode):
    """[(datagram, via)], via "main" or "other"."""
    op = req[1] & 0x7f
    if mode == "garbage":
        return [(os.urandom(int.from_bytes(os.urandom(2), "big") % 1501), "main")]
    if op == 0:
        if mode == "wrong-opcode":
            return [(answer(req, mode, opcode=1), "main")]
        return [(answer(req, mode, lifetime=0), "main")]
    if op != 1 or len(req) < 60:
        return [(answer(req, mode, result=4, lifetime=0), "main")]
    ok = answer(req, mode)
    if mode == "silent":
        return []
    if mode == "wrong-nonce":
        bad = bytearray(ok)
        bad[24] ^= 0xff
        return [(bytes(bad), "main")]
    if mode == "wrong-opcode":
        return [(answer(req, mode, opcode=2), "main")]
    if mode == "wrong-port":
        bad = bytearray(ok)
        bad[41] ^= 1
        return [(bytes(bad), "main")]
    if mode == "other-address":
        return [(ok, "other"), (ok, "port")]
    if mode == "short-life":
        return [(answer(req, mode, lifetime=1 if struct.unpack("!I", req[4:8])[0] else 0),
                 "main")]
    if mode == "flood":
        return [(os.urandom(60), "main") for _ in range(200)] + [(ok, "main")]
    if mode == "busy-ip" and req[40:42] == b"\0\x09" and req[36] == 17 and \
            struct.unpack("!I", req[4:8])[0] and BUSY[0] > 0:
        BUSY[0] -= 1
        return [(answer(req, mode, result=8, lifetime=0), "main")]
    return [(ok, "main")]


def announcer(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(addr))
    s.bind((addr, 0))
    msg = struct.pack("!BBBBII", 2, 0x80, 0, 0, 0, 0) + b"\0" * 12
    while True:
        s.sendto(msg, ("224.0.0.1", 5350))
        time.sleep(0.02)


def send_answers(replies, socks, s, peer):
    # Counted down before the answer leaves (as hostile_upnp.py does): counted
    # after, a client's next request, sent on this answer, could be read and
    # logged before the count went down, as if both had been waiting.
    with WAITING_LOCK:
        WAITING[0] -= 1
    for data, via in replies:
        socks.get(via, s).sendto(data, peer)


def udp6(addr, port):
    host, _, ifname = addr.partition("%")
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((host, port, 0, socket.if_nametoindex(ifname) if ifname else 0))
    return s


def serve(s, socks, mode, delay):
    while True:
        req, peer = s.recvfrom(2048)
        life = struct.unpack("!I", req[4:8])[0] if len(req) >= 8 else -1
        with WAITING_LOCK:
            WAITING[0] += 1
            sys.stderr.write("REQ op=%d len=%d lifetime=%d family=%d waiting=%d\n" %
                             (req[1] & 0x7f if len(req) > 1 else -1, len(req), life,
                              s.family, WAITING[0]))
            sys.stderr.flush()
        replies = reply_for(req, mode) if len(req) >= 24 and req[0] == 2 else []
        if delay:
            threading.Timer(delay, send_answers, (replies, socks, s, peer)).start()
        else:
            send_answers(replies, socks, s, peer)


def main():
    args = sys.argv[1:]
    delay = 0.0
    if "--delay" in args:
        i = args.index("--delay")
        delay = int(args[i + 1]) / 1000.0
        del args[i:i + 2]
    mode, addr = args[0], args[1]
    other = args[2] if len(args) > 2 else None
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, 5351))
    socks = {"main": s}
    if other:
        o = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        o.bind((other, 5351))
        p = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        p.bind((addr, 5352))
        socks.update(other=o, port=p)
    if mode == "announce-flood":
        threading.Thread(target=announcer, args=(addr,), daemon=True).start()
    if len(args) > 4:
        s6 = udp6(args[3], 5351)
        socks6 = {"main": s6, "other": udp6(args[4], 5351),
                  "port": udp6(args[3], 5352)}
        mode6 = "other-address" if mode == "other-address6" else mode
        threading.Thread(target=serve, args=(s6, socks6, mode6, delay), daemon=True).start()
    print("PORT 5351", flush=True)
    serve(s, socks, "ok" if mode == "other-address6" else mode, delay)


if __name__ == "__main__":
    main()
