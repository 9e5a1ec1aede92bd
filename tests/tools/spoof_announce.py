#!/usr/bin/python3
"""Spoofed gateway announcements from another LAN host, for the hostile-LAN
tests: raw IPv4 packets whose source address is the gateway's.

    spoof_announce.py GATEWAY_IP [--rate N] [--seconds S]

Sends, alternately, a NAT-PMP announcement to 224.0.0.1:5350 (external IP
and epoch alternating between two values: every second one looks like a
reboot) and an SSDP NOTIFY ssdp:alive to 239.255.255.250:1900 (BOOTID
alternating), N packets per second for S seconds. Prints "SENT <n>"."""
import socket
import struct
import sys
import time


def ip_header(src, dst, payload_len, ttl):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0, 0x4000, ttl,
                       socket.IPPROTO_UDP, 0, socket.inet_aton(src), socket.inet_aton(dst))


def udp_packet(src, dst, sport, dport, payload, ttl=1):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    return ip_header(src, dst, len(udp), ttl) + udp


def natpmp(i):
    epoch = 5 if i % 2 else 900000
    ext = "198.51.100.66" if i % 2 else "203.0.113.99"
    return struct.pack("!BBHI4s", 0, 128, 0, epoch, socket.inet_aton(ext))


def notify(gw, i):
    return ("NOTIFY * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nCACHE-CONTROL: max-age=120\r\n"
            "LOCATION: http://%s:5000/rootDesc.xml\r\nNT: upnp:rootdevice\r\nNTS: ssdp:alive\r\n"
            "USN: uuid:spoofed::upnp:rootdevice\r\nBOOTID.UPNP.ORG: %d\r\n"
            "CONFIGID.UPNP.ORG: 1\r\n\r\n" % (gw, 1000 + i % 2)).encode()


def main():
    gw = sys.argv[1]
    rate = int(sys.argv[sys.argv.index("--rate") + 1]) if "--rate" in sys.argv else 1000
    seconds = float(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 10
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    sent, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        due = int((time.monotonic() - t0) * rate)
        while sent < due:
            if sent % 2:
                pkt, dst = udp_packet(gw, "239.255.255.250", 1900, 1900, notify(gw, sent // 2), 2), \
                    "239.255.255.250"
            else:
                pkt, dst = udp_packet(gw, "224.0.0.1", 5351, 5350, natpmp(sent // 2)), "224.0.0.1"
            s.sendto(pkt, (dst, 0))
            sent += 1
        time.sleep(0.005)
    print("SENT %d" % sent, flush=True)


if __name__ == "__main__":
    main()
