#!/usr/bin/python3
"""A hostile UPnP IGD for the gateway-backend tests.

    hostile_upnp.py MODE [HOST] [--ssdp] [--ext-ip IP] [--delay MS]
                                    prints "PORT <n>" once listening.

--ssdp also answers SSDP M-SEARCHes on 239.255.255.250:1900 (on HOST's
interface) with this IGD's description URL: at once, and again 1.5 s
later (miniupnpc 2.2.4 keeps the last IGD that answers), like a rogue LAN
host posing as the gateway. --ext-ip is what GetExternalIPAddress says.
--delay makes every SOAP answer wait MS milliseconds (a slow router); the
connections are served in parallel, so how many requests a client has
waiting at once shows.

MODE picks the misbehaviour; the description is at /rootDesc.xml, the
control URL at /ctl:
  ok            a plausible IGD:1 whose GetExternalIPAddress answers 198.51.100.7
  desc-garbage  the description is random bytes
  desc-huge     the description is a 100 MB body (Content-Length given)
  desc-trickle  the description comes one byte every 0.5 s, forever
  desc-hang     the request is read, nothing is ever sent
  soap-garbage  description fine; SOAP answers are not XML
  soap-huge     description fine; SOAP answers are 100 MB
  soap-trickle  description fine; SOAP answers trickle forever
  soap-hang     description fine; SOAP requests never answered
  soap-500      description fine; SOAP answers HTTP 500 without a body
  soap-fault    description fine; SOAP answers a UPnP fault 718
  extip-hang    like ok, but GetExternalIPAddress is never answered
  add-garbage   like ok, but AddPortMapping answers HTTP 200 with an HTML page
                (no SOAP, no errorCode) and GetSpecificPortMappingEntry a 714
  add-wrong     like add-garbage, but the AddPortMapping answer is a well-formed
                SOAP envelope holding another action's response
  evil-strings  like ok, but AddPortMapping answers a fault whose errorCode
                starts a forged log line, with control characters and bytes
                that are not UTF-8
Every request is logged to stderr as "REQ <path> <SOAP action> busy=<n>"
(n: requests received and not yet being answered, this one included; an
answer starts only after the count went down, so a client that waits for
each answer never shows more than 1), every M-SEARCH answered as
"SSDP <from>"."""
import os
import re
import socket
import sys
import threading
import time

DESC = """<?xml version="1.0"?>
<root xmlns="urn:schemas-upnp-org:device-1-0"><specVersion><major>1</major><minor>0</minor></specVersion>
<device><deviceType>urn:schemas-upnp-org:device:InternetGatewayDevice:1</deviceType>
<friendlyName>hostile</friendlyName><deviceList><device>
<deviceType>urn:schemas-upnp-org:device:WANDevice:1</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:WANCommonInterfaceConfig:1</serviceType>
<serviceId>urn:upnp-org:serviceId:WANCommonIFC1</serviceId><controlURL>/ctl</controlURL>
<eventSubURL>/evt</eventSubURL><SCPDURL>/cif.xml</SCPDURL></service></serviceList>
<deviceList><device><deviceType>urn:schemas-upnp-org:device:WANConnectionDevice:1</deviceType>
<serviceList><service><serviceType>urn:schemas-upnp-org:service:WANIPConnection:1</serviceType>
<serviceId>urn:upnp-org:serviceId:WANIPConn1</serviceId><controlURL>/ctl</controlURL>
<eventSubURL>/evt</eventSubURL><SCPDURL>/ipc.xml</SCPDURL></service></serviceList>
</device></deviceList></device></deviceList></device></root>
"""

SOAP_OK = """<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>
<u:{action}Response xmlns:u="urn:schemas-upnp-org:service:WANIPConnection:1">{body}</u:{action}Response>
</s:Body></s:Envelope>
"""

SOAP_FAULT = """<?xml version="1.0"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/"><s:Body>
<s:Fault><faultcode>s:Client</faultcode><faultstring>UPnPError</faultstring><detail>
<UPnPError xmlns="urn:schemas-upnp-org:control-1-0"><errorCode>718</errorCode>
<errorDescription>ConflictInMappingEntry</errorDescription></UPnPError></detail></s:Fault>
</s:Body></s:Envelope>
"""

SOAP_714 = SOAP_FAULT.replace("718", "714").replace("ConflictInMappingEntry",
                                                    "NoSuchEntryInArray")

HTML_OK = """<html><head><title>Router</title></head>
<body><h1>Settings saved</h1><p>Your changes were applied.</p></body></html>
"""

HUGE = 100 * 1024 * 1024
EXT_IP = "198.51.100.7"
DELAY = 0.0                      # seconds before each SOAP answer
BUSY = [0]                       # requests received, answer not yet started
BUSY_LOCK = threading.Lock()

# (miniupnpc's XML reader ends a value at any '<': no "<N>" priority here)
EVIL = "7\r\nforged\x1b[1m\xff\xc2\x85".encode("latin-1")
EVIL_FAULT = SOAP_FAULT.encode().replace(b"<errorCode>718</errorCode>",
                                         b"<errorCode>" + EVIL + b"</errorCode>")


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None, b""
        data += chunk
        if len(data) > 1 << 20:
            return None, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        k, _, v = line.partition(":")
        if k.strip().lower() == "content-length":
            length = int(v.strip() or 0)
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            break
        body += chunk
    parts = lines[0].split()
    return (parts[1] if len(parts) > 1 else "/"), body


def send(conn, body, status="200 OK", ctype="text/xml"):
    if isinstance(body, str):
        body = body.encode()
    conn.sendall(("HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
                  "Connection: close\r\n\r\n" % (status, ctype, len(body))).encode() + body)


def send_huge(conn):
    conn.sendall(("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n"
                  "Connection: close\r\n\r\n" % HUGE).encode())
    block = b"<a>" + b"x" * 65530 + b"</a>"
    sent = 0
    while sent < HUGE:
        n = min(len(block), HUGE - sent)
        conn.sendall(block[:n])
        sent += n


def trickle(conn):
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\n")
    while True:
        conn.sendall(b"X")
        time.sleep(0.5)


def soap(conn, mode, body):
    if mode == "soap-garbage":
        send(conn, os.urandom(3000))
    elif mode == "soap-huge":
        send_huge(conn)
    elif mode == "soap-trickle":
        trickle(conn)
    elif mode == "soap-hang":
        time.sleep(3600)
    elif mode == "soap-500":
        send(conn, b"", status="500 Internal Server Error")
    elif mode == "soap-fault":
        send(conn, SOAP_FAULT, status="500 Internal Server Error")
    else:
        text = body.decode("latin-1")
        if mode == "evil-strings" and "AddPortMapping" in text:
            send(conn, EVIL_FAULT, status="500 Internal Server Error")
            return
        if mode == "extip-hang" and "GetExternalIPAddress" in text:
            time.sleep(3600)
        if mode in ("add-garbage", "add-wrong") and "GetSpecificPortMappingEntry" in text:
            send(conn, SOAP_714, status="500 Internal Server Error")
            return
        if mode == "add-garbage" and "AddPortMapping" in text:
            send(conn, HTML_OK, ctype="text/html")
            return
        if mode == "add-wrong" and "AddPortMapping" in text:
            send(conn, SOAP_OK.format(action="DeletePortMapping", body=""))
            return
        for action in ("GetExternalIPAddress", "GetStatusInfo", "AddPortMapping",
                       "DeletePortMapping", "GetSpecificPortMappingEntry"):
            if action in text:
                break
        inner = {
            "GetExternalIPAddress": "<NewExternalIPAddress>%s</NewExternalIPAddress>" % EXT_IP,
            "GetStatusInfo": "<NewConnectionStatus>Connected</NewConnectionStatus>"
                             "<NewLastConnectionError>ERROR_NONE</NewLastConnectionError>"
                             "<NewUptime>100</NewUptime>",
        }.get(action, "")
        send(conn, SOAP_OK.format(action=action, body=inner))


def received(path, body):
    """Log the request; wait --delay before a SOAP answer."""
    action = re.search(rb"<u:(\w+)", body)
    with BUSY_LOCK:
        BUSY[0] += 1
        sys.stderr.write("REQ %s %s busy=%d\n" % (path, action.group(1).decode() if action
                                                   else "-", BUSY[0]))
        sys.stderr.flush()
    try:
        if path.startswith("/ctl"):
            time.sleep(DELAY)
    finally:
        with BUSY_LOCK:
            BUSY[0] -= 1


def serve(conn, mode):
    try:
        path, body = read_request(conn)
        if path is None:
            return
        received(path, body)
        if path.startswith("/ctl"):
            soap(conn, mode, body)
        elif mode == "desc-garbage":
            send(conn, os.urandom(5000))
        elif mode == "desc-huge":
            send_huge(conn)
        elif mode == "desc-trickle":
            trickle(conn)
        elif mode == "desc-hang":
            time.sleep(3600)
        else:
            send(conn, DESC)
    except OSError:
        pass
    finally:
        conn.close()


def ssdp_answers(host, port):
    """Answer every M-SEARCH for an IGD (or all devices) twice, as a rogue
    IGD that wants to be picked: at once, and again 1.5 s later."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("239.255.255.250", 1900))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP,
                 socket.inet_aton("239.255.255.250") + socket.inet_aton(host))
    out = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    out.bind((host, 0))
    while True:
        data, peer = s.recvfrom(4096)
        if not data.startswith(b"M-SEARCH"):
            continue
        st = re.search(rb"(?im)^ST:\s*(\S+)", data)
        st = st.group(1).decode() if st else "upnp:rootdevice"
        reply = ("HTTP/1.1 200 OK\r\nCACHE-CONTROL: max-age=120\r\nST: %s\r\n"
                 "USN: uuid:0badc0de-0000-4000-8000-%012d::%s\r\nEXT:\r\n"
                 "SERVER: Linux UPnP/1.1 rogue/1.0\r\n"
                 "LOCATION: http://%s:%d/rootDesc.xml\r\nBOOTID.UPNP.ORG: 1\r\n\r\n"
                 % (st, port, st, host, port)).encode()
        sys.stderr.write("SSDP %s:%d %s\n" % (peer[0], peer[1], st))
        sys.stderr.flush()
        out.sendto(reply, peer)
        threading.Timer(1.5, out.sendto, (reply, peer)).start()


def main():
    global EXT_IP, DELAY
    args = sys.argv[1:]
    ssdp = "--ssdp" in args
    if ssdp:
        args.remove("--ssdp")
    if "--ext-ip" in args:
        i = args.index("--ext-ip")
        EXT_IP = args[i + 1]
        del args[i:i + 2]
    if "--delay" in args:
        i = args.index("--delay")
        DELAY = int(args[i + 1]) / 1000.0
        del args[i:i + 2]
    mode = args[0]
    host = args[1] if len(args) > 1 else "127.0.0.1"
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, 0))
    srv.listen(16)
    port = srv.getsockname()[1]
    if ssdp:
        threading.Thread(target=ssdp_answers, args=(host, port), daemon=True).start()
    print("PORT %d" % port, flush=True)
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn, mode), daemon=True).start()


if __name__ == "__main__":
    main()
