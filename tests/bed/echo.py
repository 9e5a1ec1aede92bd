"""TCP and UDP echo service for the test bed's LAN hosts.

Every reply starts with a banner line naming the host that answered:
    homeport-echo host=LABEL addr=ADDR proto=tcp port=PORT peer=IP:PORT
then echoes what it received (TCP: until the peer closes; UDP: banner + datagram).

    python3 echo.py LABEL ADDR READYFILE tcp:8080 udp:8080 tcp6:8080 udp6:8080 ...

tcp:/udp: listen on IPv4, tcp6:/udp6: on IPv6 (IPv6 only), all addresses.
"""
import os
import socket
import sys
import threading


def banner(label, addr, proto, port, peer):
    return ("homeport-echo host=%s addr=%s proto=%s port=%d peer=%s:%d\n"
            % (label, addr, proto, port, peer[0], peer[1])).encode()


def tcp_client(conn, peer, label, addr, port):
    try:
        conn.settimeout(30)
        conn.sendall(banner(label, addr, "tcp", port, peer))
        while True:
            data = conn.recv(65536)
            if not data:
                break
            conn.sendall(data)
    except OSError:
        pass
    finally:
        conn.close()


def tcp_loop(sock, label, addr, port):
    while True:
        conn, peer = sock.accept()
        threading.Thread(target=tcp_client, args=(conn, peer, label, addr, port),
                         daemon=True).start()


def udp_loop(sock, label, addr, port):
    while True:
        data, peer = sock.recvfrom(65536)
        try:
            sock.sendto(banner(label, addr, "udp", port, peer) + data, peer)
        except OSError:
            pass


def main():
    label, addr, ready = sys.argv[1], sys.argv[2], sys.argv[3]
    threads = []
    for spec in sys.argv[4:]:
        proto, port = spec.split(":")
        port = int(port)
        v6 = proto.endswith("6")
        family, anyaddr = (socket.AF_INET6, "::") if v6 else (socket.AF_INET, "0.0.0.0")
        if proto.startswith("tcp"):
            s = socket.socket(family, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            target = tcp_loop
        else:
            s = socket.socket(family, socket.SOCK_DGRAM)
            target = udp_loop
        if v6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        s.bind((anyaddr, port))
        if target is tcp_loop:
            s.listen(64)
        threads.append(threading.Thread(target=target, args=(s, label, addr, port), daemon=True))
    for t in threads:
        t.start()
    with open(ready + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(ready + ".tmp", ready)
    threading.Event().wait()


if __name__ == "__main__":
    main()
