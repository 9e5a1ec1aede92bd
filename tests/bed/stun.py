"""A minimal STUN responder (RFC 5389 Binding success with XOR-MAPPED-ADDRESS).

miniupnpd treats documentation-range WAN addresses as private and only enables
port forwarding after a STUN check shows it is not behind a NAT; this answers
that check with the request's source address.

    python3 stun.py ADDR PORT READYFILE
"""
import os
import socket
import struct
import sys

MAGIC = 0x2112A442


def reply(req, addr):
    if len(req) < 20:
        return None
    mtype, mlen, magic = struct.unpack("!HHI", req[:8])
    if mtype != 0x0001 or magic != MAGIC:
        return None
    tid = req[8:20]
    ip, port = addr[0], addr[1]
    xport = port ^ (MAGIC >> 16)
    if ":" in ip:
        raw = socket.inet_pton(socket.AF_INET6, ip)
        key = struct.pack("!I", MAGIC) + tid
        xip = bytes(a ^ b for a, b in zip(raw, key))
        attr = struct.pack("!BBH", 0, 2, xport) + xip
    else:
        raw = struct.unpack("!I", socket.inet_aton(ip))[0]
        attr = struct.pack("!BBHI", 0, 1, xport, raw ^ MAGIC)
    body = struct.pack("!HH", 0x0020, len(attr)) + attr
    return struct.pack("!HHI", 0x0101, len(body), MAGIC) + tid + body


def main():
    addr, port, ready = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((addr, port))
    with open(ready + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(ready + ".tmp", ready)
    while True:
        data, peer = s.recvfrom(2048)
        r = reply(data, peer)
        if r:
            s.sendto(r, peer)


if __name__ == "__main__":
    main()
