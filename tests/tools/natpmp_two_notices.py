#!/usr/bin/python3
"""A NAT-PMP server (RFC 6886) that changes its external address the way
miniupnpd does, for the announcement tests.

    natpmp_two_notices.py GATEWAY_IP OLD_IP NEW_IP     prints "PORT 5351" once listening

It answers external-address requests with OLD_IP and grants every mapping
as asked. On SIGUSR1 it "reboots": its epoch starts again at 0 and it
multicasts a first notice (still OLD_IP) from GATEWAY_IP to 224.0.0.1:5350;
the next external-address request is answered with the new epoch but still
OLD_IP, and right after that answer the address becomes NEW_IP and a second
notice goes out. Every request and notice is logged to stderr with a
monotonic time stamp: "REQ op=N t=T", "NOTICE n=N ip=IP t=T"."""
import signal
import socket
import struct
import sys
import threading
import time

gw_ip, old_ip, new_ip = sys.argv[1:4]
state = {"ip": old_ip, "base": time.monotonic() - 1000, "reset": False}
lock = threading.Lock()


def epoch():
    return int(time.monotonic() - state["base"]) & 0xffffffff


def addr_reply():
    return struct.pack("!BBHI4s", 0, 128, 0, epoch(), socket.inet_aton(state["ip"]))


def notice(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(gw_ip))
    s.bind((gw_ip, 0))
    s.sendto(addr_reply(), ("224.0.0.1", 5350))
    s.close()
    sys.stderr.write("NOTICE n=%d ip=%s t=%.4f\n" % (n, state["ip"], time.monotonic()))
    sys.stderr.flush()


def reboot():
    with lock:
        state["base"] = time.monotonic()
        state["reset"] = True
        notice(1)


def on_usr1(signum, frame):
    # not under the lock here: the main loop may hold it
    threading.Thread(target=reboot).start()


def main():
    signal.signal(signal.SIGUSR1, on_usr1)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((gw_ip, 5351))
    print("PORT 5351", flush=True)
    while True:
        data, peer = s.recvfrom(64)
        if len(data) < 2 or data[0] != 0:
            continue
        op = data[1]
        with lock:
            sys.stderr.write("REQ op=%d t=%.4f\n" % (op, time.monotonic()))
            sys.stderr.flush()
            if op == 0:
                s.sendto(addr_reply(), peer)
                if state["reset"]:
                    state["reset"] = False
                    state["ip"] = new_ip
                    notice(2)
            elif op in (1, 2) and len(data) >= 12:
                _, _, _, iport, eport, life = struct.unpack("!BBHHHI", data[:12])
                s.sendto(struct.pack("!BBHIHHI", 0, 128 + op, 0, epoch(), iport,
                                     eport if life else 0, life), peer)


if __name__ == "__main__":
    main()
