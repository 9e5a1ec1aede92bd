"""HTTPS stand-in for the DDNS providers: dyndns2, Cloudflare API v4, DuckDNS and a
generic webhook, speaking each API as its public documentation describes
(/work/shared/reference/ddns-protocols.md), with real state. It also plays the
"what is my IP" web services (checkip): a request whose Host is one of
checkip_hosts is answered with the source address of the connection, as a
real service on the internet would.

    python3 standin.py CONFIG.json

Alibaba Cloud DNS and DNSPod live in standin_cloud.py (signatures verified, records
kept by id, index lag, clock skew).

CONFIG keys: addr, https_port, http_port (0 = none), cert, key, log (JSON lines,
one per request), control (unix socket path), ready (file written once
listening), accounts (see DEFAULT_ACCOUNTS), checkip_hosts (host names that
answer as checkip services).

Control (unix socket, one JSON object per line, one JSON reply line; also
POST /_standin/control with the same JSON):
  {"op": "set", "fail": MODE, "count": N|null, "api": API|null, "delay": S,
   "retry_after": S, "size": BYTES}     failure switch (replaces the previous one)
  {"op": "reset"}                       normal answers again
  {"op": "records"}                     -> {"records": {name: {type: record}}}
  {"op": "seed", "name", "type", "content", "ttl", "proxied"}
  {"op": "delete", "name", "type"|null}
  {"op": "webhook", "status", "body", "headers", "content_type"}
  {"op": "accounts", "accounts": {...}} merged into the accounts
  {"op": "ping"}
  {"op": "checkip", "host": H, "mode": M, "ip": IP, "delay": S, "format": F}
                                        how checkip host H answers from now on:
                                        M = echo (the caller's address, default),
                                        lie (IP), private (10.9.8.7), garbage,
                                        500, close; F = plain (default) or page
                                        (Dyn/Oray's "Current IP Address:" page)
  {"op": "clock", "skew": S}             the stand-in's clock (and Date headers) S s off
  {"op": "cloud", "api": "alidns"|"dnspod", "index_lag": S}   new records hidden S s
  {"op": "cloud_records", "api"}         -> {"records": [...]}
  {"op": "cloud_seed", "api", "name", "type", "value", "line"}  (duplicates allowed)
  {"op": "cloud_delete", "api", "id"|null}
MODE: 911 dnserr badauth nohost abuse badagent notfqdn numhost 429 500 garbage
huge close, and throttle (alidns Throttling.User, dnspod RequestLimitExceeded)
(a "slow" reply is "delay" without "fail").
"""
import base64
import email.utils
import fnmatch
import ipaddress
import json
import os
import random
import socket
import ssl
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import standin_cloud as cloud

DEFAULT_ACCOUNTS = {
    # dyndns2: user -> password and the host patterns (fnmatch) the account owns
    "dyndns2": {"homeport": {"password": "dynpass", "hosts": ["*.dyn.example"]}},
    # Cloudflare: API tokens and zones (name -> id)
    "cloudflare": {"tokens": ["cftoken"],
                   "zones": {"cf.example": "023e105f4ecef8ad9ca31a8372d0c353"}},
    # DuckDNS: token -> sub-domains (without .duckdns.org)
    "duckdns": {"duck-token": ["myhome", "mycam"]},
}
DEFAULT_ACCOUNTS.update(cloud.DEFAULT_ACCOUNTS)

MAX_BODY = 10 * 1024 * 1024
DYNDNS2_PATHS = ("/nic/update", "/v3/update", "/dyndns/update", "/ph/update",
                 "/XDynDNSServer/XDynDNS.php")
DYNDNS2_CODES = ("911", "dnserr", "badauth", "nohost", "abuse", "badagent", "notfqdn",
                 "numhost", "!donator", "!yours", "badsys")


def now_iso():
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())


def valid_ip(text, version=None):
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    return version is None or ip.version == version


class State:
    def __init__(self, cfg):
        self.lock = threading.Lock()
        self.cfg = cfg
        self.accounts = json.loads(json.dumps(DEFAULT_ACCOUNTS))
        for k, v in (cfg.get("accounts") or {}).items():
            self.accounts.setdefault(k, {}).update(v)
        self.records = {}          # name -> type -> record
        self.switch = {}
        self.switch_left = None
        self.webhook = {"status": 200, "body": "ok", "content_type": "text/plain",
                        "headers": {}}
        self.logf = open(cfg["log"], "a", buffering=1)
        self.checkip_hosts = [h.lower() for h in cfg.get("checkip_hosts") or ()]
        self.checkip = {}          # host -> {"mode", "ip", "delay", "format"}
        self.cloud = cloud.CloudState(self)

    # -- failure switch ------------------------------------------------------
    def take_switch(self, api):
        """The switch that applies to this request, consuming one count."""
        with self.lock:
            sw = self.switch
            if not sw or (sw.get("api") and sw["api"] != api):
                return {}
            if self.switch_left is not None:
                if self.switch_left <= 0:
                    return {}
                self.switch_left -= 1
            return dict(sw)

    # -- records ---------------------------------------------------------------
    def set_record(self, name, rtype, content, api, ttl=None, proxied=None, zone=None):
        """Create or change a record; return (record, changed)."""
        name = name.lower().rstrip(".")
        with self.lock:
            recs = self.records.setdefault(name, {})
            rec = recs.get(rtype)
            t = now_iso()
            if rec is None:
                rec = {"id": uuid.uuid4().hex, "type": rtype, "name": name, "content": content,
                       "ttl": 1 if ttl is None else ttl, "proxied": bool(proxied),
                       "created_on": t, "modified_on": t, "api": api, "updates": 1,
                       "zone": zone}
                recs[rtype] = rec
                return dict(rec), True
            changed = rec["content"] != content
            rec["content"] = content
            if ttl is not None:
                rec["ttl"] = ttl
            if proxied is not None:
                rec["proxied"] = bool(proxied)
            rec["modified_on"] = t
            rec["api"] = api
            rec["updates"] += 1
            return dict(rec), changed

    def get_record(self, name, rtype):
        with self.lock:
            rec = self.records.get(name.lower().rstrip("."), {}).get(rtype)
            return dict(rec) if rec else None

    def find_by_id(self, rid):
        with self.lock:
            for recs in self.records.values():
                for rec in recs.values():
                    if rec["id"] == rid:
                        return rec
        return None

    def delete(self, name, rtype=None):
        name = name.lower().rstrip(".")
        with self.lock:
            if rtype is None:
                self.records.pop(name, None)
            else:
                self.records.get(name, {}).pop(rtype, None)
                if not self.records.get(name, True):
                    self.records.pop(name, None)

    def log(self, entry):
        line = json.dumps(entry, sort_keys=True)
        with self.lock:
            self.logf.write(line + "\n")
            self.logf.flush()

    # -- control ---------------------------------------------------------------
    def control(self, req):
        op = req.get("op")
        if op == "ping":
            return {"ok": True}
        if op == "set":
            with self.lock:
                self.switch = {k: req.get(k) for k in
                               ("fail", "api", "delay", "retry_after", "size")}
                count = req.get("count")
                self.switch_left = None if count is None else int(count)
            return {"ok": True}
        if op == "reset":
            with self.lock:
                self.switch, self.switch_left = {}, None
            return {"ok": True}
        if op == "records":
            with self.lock:
                return {"ok": True, "records": json.loads(json.dumps(self.records))}
        if op == "seed":
            zone = None
            for zname, zid in self.accounts.get("cloudflare", {}).get("zones", {}).items():
                n = req["name"].lower().rstrip(".")
                if n == zname or n.endswith("." + zname):
                    zone = zname
            rec, _ = self.set_record(req["name"], req.get("type", "A"), req["content"], "seed",
                                     req.get("ttl"), req.get("proxied"), zone)
            return {"ok": True, "record": rec}
        if op == "delete":
            self.delete(req["name"], req.get("type"))
            return {"ok": True}
        if op == "webhook":
            with self.lock:
                for k in ("status", "body", "headers", "content_type"):
                    if k in req and req[k] is not None:
                        self.webhook[k] = req[k]
            return {"ok": True}
        if op == "checkip":
            with self.lock:
                self.checkip[req["host"].lower()] = {
                    k: req.get(k) for k in ("mode", "ip", "delay", "format")}
            return {"ok": True}
        if op == "accounts":
            with self.lock:
                for k, v in (req.get("accounts") or {}).items():
                    self.accounts.setdefault(k, {}).update(v)
            return {"ok": True}
        out = self.cloud.control(req)
        if out is not None:
            return out
        return {"ok": False, "error": "unknown op %r" % op}


class Reply:
    def __init__(self, code=200, body=b"", ctype="text/plain; charset=utf-8", headers=None):
        self.code = code
        self.body = body if isinstance(body, bytes) else body.encode()
        self.ctype = ctype
        self.headers = headers or {}
        self.stream_size = None     # huge: stream this many bytes instead of body
        self.close = False          # close the connection without answering


def cf_envelope(result=None, success=True, errors=None, result_info=None, code=200):
    env = {"success": success, "errors": errors or [], "messages": [], "result": result}
    if result_info is not None:
        env["result_info"] = result_info
    return Reply(code, json.dumps(env), "application/json")


def cf_error(code, ecode, message):
    return cf_envelope(None, False, [{"code": ecode, "message": message}], code=code)


def cf_list(items, params):
    page = int(params.get("page", "1") or 1)
    per_page = int(params.get("per_page", "100") or 100)
    total = len(items)
    chunk = items[(page - 1) * per_page: page * per_page]
    pages = max(1, (total + per_page - 1) // per_page)
    return cf_envelope(chunk, result_info={"page": page, "per_page": per_page,
                                           "count": len(chunk), "total_count": total,
                                           "total_pages": pages})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "homeport-standin/1"
    timeout = 30

    def log_message(self, fmt, *args):
        pass

    def date_time_string(self, timestamp=None):
        """The Date header follows the stand-in's clock, skewed when a test says so."""
        return email.utils.formatdate(self.server.state.cloud.now(), usegmt=True)

    def setup(self):
        super().setup()
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()

    def handle(self):
        try:
            super().handle()
        except (OSError, ssl.SSLError):
            pass

    def do_GET(self):
        self.serve()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    # -- plumbing ----------------------------------------------------------------
    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n > MAX_BODY:
            raise ValueError("body too large")
        data = b""
        while len(data) < n:
            chunk = self.rfile.read(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def auth(self):
        h = self.headers.get("Authorization")
        if not h:
            return None
        kind, _, rest = h.partition(" ")
        if kind.lower() == "basic":
            try:
                user, _, pw = base64.b64decode(rest.strip()).decode().partition(":")
            except Exception:
                return {"type": "basic", "invalid": True}
            return {"type": "basic", "user": user, "password": pw}
        if kind.lower() == "bearer":
            return {"type": "bearer", "token": rest.strip()}
        return {"type": kind, "value": rest}

    def serve(self):
        st = self.server.state
        url = urllib.parse.urlsplit(self.path)
        path = url.path
        qs = urllib.parse.parse_qs(url.query, keep_blank_values=True)
        params = {k: v[-1] for k, v in qs.items()}
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            body = b""
            reply, api = Reply(413, "too large"), "none"
        else:
            api = self.api_for(path, params)
            reply = None
        self.note = {}
        entry = {"time": time.time(), "api": api, "method": self.command, "path": path,
                 "query": params, "query_raw": url.query,
                 "headers": dict(self.headers.items()), "auth": self.auth(),
                 "body": body.decode("utf-8", "replace"), "client": self.client_address[0],
                 "scheme": self.server.scheme, "fail": None, "delay": None}
        sw = {}
        if reply is None:
            if api == "control":
                try:
                    reply = Reply(200, json.dumps(st.control(json.loads(body or b"{}"))),
                                  "application/json")
                except Exception as e:
                    reply = Reply(400, json.dumps({"ok": False, "error": str(e)}),
                                  "application/json")
            else:
                sw = st.take_switch(api)
                if sw.get("fail"):
                    reply = self.failure(api, sw)
                else:
                    try:
                        reply = self.dispatch(api, path, params, body)
                    except Exception as e:      # a bug here must still answer
                        reply = Reply(500, "stand-in error: %r" % e)
        entry.update(self.note)
        entry["fail"] = sw.get("fail")
        entry["delay"] = sw.get("delay")
        entry["code"] = None if reply.close else reply.code
        entry["reply"] = (reply.body[:2000].decode("utf-8", "replace")
                          if reply.stream_size is None else "<%d bytes>" % reply.stream_size)
        st.log(entry)
        if sw.get("delay"):
            time.sleep(float(sw["delay"]))
        self.send(reply)

    def send(self, reply):
        if reply.close:
            self.close_connection = True
            try:
                self.request.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.send_response(reply.code)
        self.send_header("Content-Type", reply.ctype)
        for k, v in reply.headers.items():
            self.send_header(k, str(v))
        size = reply.stream_size if reply.stream_size is not None else len(reply.body)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if self.command == "HEAD":
            return
        if reply.stream_size is None:
            self.wfile.write(reply.body)
            return
        line = b"homeport stand-in huge body, not a valid reply at all 0123456789abcdef\n"
        chunk = line * (65536 // len(line) + 1)
        left = size
        while left > 0:
            n = min(left, len(chunk))
            self.wfile.write(chunk[:n])
            left -= n

    def api_for(self, path, params):
        if path == "/_standin/control":
            return "control"
        if self.host() in self.server.state.checkip_hosts:
            return "checkip"
        if self.headers.get("x-acs-action"):
            return "alidns"
        if self.headers.get("X-TC-Action"):
            return "dnspod"
        if path.startswith("/client/v4/"):
            return "cloudflare"
        if path == "/update" and "domains" in params:
            return "duckdns"
        if path in DYNDNS2_PATHS or path == "/update":
            return "dyndns2"
        if path == "/" and "hostname" in params:    # deSEC: https://update.dedyn.io/?hostname=
            return "dyndns2"
        if path == "/webhook" or path.startswith("/webhook/"):
            return "webhook"
        return "none"

    def host(self):
        return (self.headers.get("Host") or "").lower().rsplit(":", 1)[0]

    def dispatch(self, api, path, params, body):
        if api == "checkip":
            return self.checkip()
        if api == "dyndns2":
            return self.dyndns2(params)
        if api == "cloudflare":
            return self.cloudflare(path, params, body)
        if api == "duckdns":
            return self.duckdns(params)
        if api == "webhook":
            return self.webhook(params, body)
        if api in cloud.HANDLERS:
            raw = urllib.parse.urlsplit(self.path).query
            status, obj, headers, self.note = cloud.HANDLERS[api](
                self.server.state.cloud, self.command, path, raw, self.headers, body)
            return self.json_reply(status, obj, headers)
        return Reply(404, "not found\n")

    @staticmethod
    def json_reply(status, obj, headers):
        return Reply(status, json.dumps(obj, ensure_ascii=False), "application/json;charset=utf-8",
                     headers)

    # -- failure switches ------------------------------------------------------------
    def failure(self, api, sw):
        mode = str(sw["fail"])
        if mode == "close":
            r = Reply()
            r.close = True
            return r
        if mode == "garbage":
            junk = bytes(random.getrandbits(8) for _ in range(200))
            return Reply(200, b"\x00\xff<html>{{ garbage ]]" + junk + b"\n", "text/plain")
        if mode == "huge":
            r = Reply(200, b"", "text/plain")
            r.stream_size = int(sw.get("size") or 50 * 1024 * 1024)
            return r
        if api in cloud.FAILURES:
            r = cloud.FAILURES[api](mode, sw.get("retry_after"))
            if r is not None:
                return self.json_reply(*r)
        if mode == "429":
            ra = sw.get("retry_after")
            ra = 120 if ra is None else ra
            headers = {"Retry-After": ra}
            if api == "cloudflare":
                r = cf_error(429, 971, "Please wait and consider throttling your request speed")
                r.headers = headers
                return r
            return Reply(429, "Too Many Requests\n", headers=headers)
        if mode == "500":
            if api == "cloudflare":
                return cf_error(500, 10000, "Internal server error")
            return Reply(500, "Internal Server Error\n")
        # provider answer codes
        if api == "cloudflare":
            if mode == "badauth":
                return cf_error(403, 10000, "Authentication error")
            if mode == "nohost":
                return cf_error(404, 81044, "Record does not exist.")
            return cf_error(503, 10000, "Service unavailable (%s)" % mode)
        if api == "duckdns":
            return Reply(200, "KO")
        if api == "webhook":
            if mode == "badauth":
                return Reply(401, "badauth\n")
            return Reply(500, mode + "\n")
        code = 401 if mode == "badauth" else 200
        return Reply(code, mode + "\n")

    # -- checkip ---------------------------------------------------------------------
    def checkip(self):
        """What a "what is my IP" service answers: the address the request came
        from (after the router's NAT), as text or as Dyn's checkip page."""
        with self.server.state.lock:
            how = dict(self.server.state.checkip.get(self.host()) or {})
        mode = how.get("mode") or "echo"
        if how.get("delay"):
            time.sleep(float(how["delay"]))
        if mode == "500":
            return Reply(500, "Internal Server Error\n")
        if mode == "close":
            r = Reply()
            r.close = True
            return r
        if mode == "garbage":
            return Reply(200, "<html><body>your address is a secret</body></html>\n",
                         "text/html")
        ip = {"lie": how.get("ip"), "private": "10.9.8.7"}.get(mode) or self.client_address[0]
        if how.get("format") == "page":
            return Reply(200, "<html><head><title>Current IP Check</title></head><body>"
                         "Current IP Address: %s</body></html>\r\n" % ip, "text/html")
        return Reply(200, ip + "\n")

    # -- dyndns2 ---------------------------------------------------------------------
    def dyndns2(self, params):
        st = self.server.state
        if self.command != "GET" or not self.headers.get("User-Agent"):
            return Reply(200, "badagent\n")
        a = self.auth()
        users = st.accounts.get("dyndns2", {})
        if params.get("username") is not None and (a is None or a.get("type") != "basic"):
            a = {"type": "basic", "user": params.get("username"),
                 "password": params.get("password", "")}
        if (a is None or a.get("type") != "basic" or a.get("user") not in users
                or users[a["user"]].get("password") != a.get("password")):
            return Reply(401, "badauth\n",
                         headers={"WWW-Authenticate": 'Basic realm="DDNS stand-in"'})
        account = users[a["user"]]
        hosts = [h.strip() for h in params.get("hostname", "").split(",") if h.strip()]
        if not hosts:
            return Reply(200, "notfqdn\n")
        if len(hosts) > 20:
            return Reply(200, "numhost\n")
        v4 = v6 = None
        for part in params.get("myip", "").split(","):
            part = part.strip()
            if valid_ip(part, 4):
                v4 = part
            elif valid_ip(part, 6):
                v6 = part
        if valid_ip(params.get("myipv6", ""), 6):
            v6 = params["myipv6"]
        if v4 is None and v6 is None:
            if params.get("myip"):
                return Reply(200, "dnserr\n")       # unusable address
            src = self.client_address[0]
            if valid_ip(src, 4):
                v4 = src
            else:
                v6 = src
        lines = []
        for h in hosts:
            if "." not in h.strip("."):
                lines.append("notfqdn")
                continue
            if not any(fnmatch.fnmatch(h.lower(), p.lower()) or h.lower() == p.lower()
                       for p in account.get("hosts", [])) and h.lower() != a["user"].lower():
                lines.append("nohost")
                continue
            changed = False
            for rtype, ip in (("A", v4), ("AAAA", v6)):
                if ip:
                    _, c = st.set_record(h, rtype, ip, "dyndns2")
                    changed = changed or c
            shown = ",".join(x for x in (v4, v6) if x)
            lines.append(("good " if changed else "nochg ") + shown)
        return Reply(200, "\n".join(lines) + "\n")

    # -- DuckDNS ---------------------------------------------------------------------
    def duckdns(self, params):
        st = self.server.state
        token = params.get("token", "")
        owned = st.accounts.get("duckdns", {}).get(token)
        domains = [d.strip().lower() for d in params.get("domains", "").split(",") if d.strip()]
        domains = [d[:-len(".duckdns.org")] if d.endswith(".duckdns.org") else d
                   for d in domains]
        if owned is None or not domains or any(d not in owned for d in domains):
            return Reply(200, "KO")
        ip = params.get("ip", "")
        ipv6 = params.get("ipv6", "")
        if ip and not valid_ip(ip):
            return Reply(200, "KO")
        if ipv6 and not valid_ip(ipv6, 6):
            return Reply(200, "KO")
        if not ip and not ipv6:
            ip = self.client_address[0]
        if ip and valid_ip(ip, 6):
            ip, ipv6 = "", ip
        changed = False
        for d in domains:
            name = d + ".duckdns.org"
            if params.get("clear") == "true":
                st.delete(name)
                changed = True
                continue
            for rtype, val in (("A", ip), ("AAAA", ipv6)):
                if val:
                    _, c = st.set_record(name, rtype, val, "duckdns")
                    changed = changed or c
        if params.get("verbose") == "true":
            return Reply(200, "OK\n%s\n%s\n%s" % (ip, ipv6, "UPDATED" if changed else "NOCHANGE"))
        return Reply(200, "OK")

    # -- webhook ---------------------------------------------------------------------
    def webhook(self, params, body):
        st = self.server.state
        fields = dict(params)
        ctype = self.headers.get("Content-Type", "")
        if body:
            try:
                if "json" in ctype:
                    j = json.loads(body)
                    if isinstance(j, dict):
                        fields.update({k: str(v) for k, v in j.items()
                                       if isinstance(v, (str, int, float))})
                elif "x-www-form-urlencoded" in ctype:
                    fields.update({k: v[-1] for k, v in
                                   urllib.parse.parse_qs(body.decode(), True).items()})
            except Exception:
                pass
        ip = next((fields[k] for k in ("ip", "myip", "ipv4", "address", "content")
                   if valid_ip(fields.get(k, ""))), None)
        host = next((fields[k] for k in ("hostname", "host", "name", "domain")
                     if fields.get(k)), None)
        if ip and host:
            for h in host.split(","):
                if h.strip():
                    st.set_record(h.strip(), "AAAA" if ":" in ip else "A", ip, "webhook")
        with st.lock:
            w = dict(st.webhook)
        return Reply(int(w["status"]), w["body"], w["content_type"], dict(w["headers"]))

    # -- Cloudflare API v4 -----------------------------------------------------------
    def cloudflare(self, path, params, body):
        st = self.server.state
        acc = st.accounts.get("cloudflare", {})
        h = self.headers.get("Authorization")
        if not h:
            return cf_error(400, 9106, "Missing X-Auth-Email header")
        if not h.startswith("Bearer ") or not h[7:].strip():
            return cf_error(400, 6111, "Invalid format for Authorization header")
        if h[7:].strip() not in acc.get("tokens", []):
            return cf_error(403, 10000, "Authentication error")
        parts = [p for p in path.split("/") if p][2:]      # after client/v4
        zones = acc.get("zones", {})
        if parts == ["zones"] and self.command == "GET":
            items = [{"id": zid, "name": zname, "status": "active", "paused": False,
                      "type": "full"} for zname, zid in sorted(zones.items())
                     if "name" not in params or params["name"].lower().rstrip(".") == zname]
            return cf_list(items, params)
        if len(parts) < 2 or parts[0] != "zones":
            return cf_error(400, 7000, "No route for that URI")
        zname = next((n for n, i in zones.items() if i == parts[1]), None)
        if zname is None:
            return cf_error(404, 7003, "Could not route to /zones/%s, perhaps your object "
                            "identifier is invalid?" % parts[1])
        if len(parts) == 2 and self.command == "GET":
            return cf_envelope({"id": parts[1], "name": zname, "status": "active"})
        if len(parts) < 3 or parts[2] != "dns_records":
            return cf_error(400, 7000, "No route for that URI")

        def in_zone(name):
            return name == zname or name.endswith("." + zname)

        def full(name):
            name = (name or "").lower().rstrip(".")
            if name == "@":
                return zname
            return name if in_zone(name) else name + "." + zname

        def view(rec):
            return {"id": rec["id"], "zone_id": parts[1], "zone_name": zname,
                    "name": rec["name"], "type": rec["type"], "content": rec["content"],
                    "proxiable": True, "proxied": rec["proxied"], "ttl": rec["ttl"],
                    "locked": False, "meta": {"auto_added": False, "source": "primary"},
                    "comment": None, "tags": [], "created_on": rec["created_on"],
                    "modified_on": rec["modified_on"]}

        def parse_json():
            try:
                j = json.loads(body)
                if not isinstance(j, dict):
                    raise ValueError
                return j
            except Exception:
                return None

        def check(rtype, content, ttl):
            if rtype not in ("A", "AAAA", "CNAME", "TXT"):
                return "DNS Validation Error: unsupported type"
            if rtype == "A" and not valid_ip(str(content), 4):
                return "Content for A record must be a valid IPv4 address."
            if rtype == "AAAA" and not valid_ip(str(content), 6):
                return "Content for AAAA record must be a valid IPv6 address."
            if ttl is not None and not (ttl == 1 or (isinstance(ttl, int) and 60 <= ttl <= 86400)):
                return "TTL must be between 60 and 86400 seconds, or 1 for Automatic."
            return None

        with st.lock:
            recs = [dict(r) for n, types in st.records.items() if in_zone(n)
                    for r in types.values()]
        if len(parts) == 3:
            if self.command == "GET":
                sel = recs
                if params.get("type"):
                    sel = [r for r in sel if r["type"] == params["type"]]
                name = params.get("name.exact") or params.get("name")
                if name:
                    sel = [r for r in sel if r["name"] == full(name)]
                if params.get("content"):
                    sel = [r for r in sel if r["content"] == params["content"]]
                sel.sort(key=lambda r: (r["name"], r["type"]))
                return cf_list([view(r) for r in sel], params)
            if self.command == "POST":
                j = parse_json()
                if j is None:
                    return cf_error(400, 9207, "Request body is invalid.")
                if not all(k in j for k in ("type", "name", "content")):
                    return cf_error(400, 9005, "Missing type, name or content")
                name = full(j["name"])
                err = check(j["type"], j["content"], j.get("ttl"))
                if err:
                    return cf_error(400, 9005, err)
                if st.get_record(name, j["type"]):
                    return cf_error(400, 81057, "Record already exists.")
                rec, _ = st.set_record(name, j["type"], str(j["content"]), "cloudflare",
                                       j.get("ttl", 1), j.get("proxied", False), zname)
                return cf_envelope(view(rec))
            return cf_error(405, 10405, "Method not allowed")
        rid = parts[3]
        rec = st.find_by_id(rid)
        if rec is None or not in_zone(rec["name"]) or len(parts) != 4:
            return cf_error(404, 81044, "Record does not exist.")
        rec = dict(rec)
        if self.command == "GET":
            return cf_envelope(view(rec))
        if self.command == "DELETE":
            st.delete(rec["name"], rec["type"])
            return cf_envelope({"id": rid})
        if self.command in ("PATCH", "PUT"):
            j = parse_json()
            if j is None:
                return cf_error(400, 9207, "Request body is invalid.")
            if self.command == "PUT" and not all(k in j for k in ("type", "name", "content")):
                return cf_error(400, 9005, "PUT needs type, name and content")
            rtype = j.get("type", rec["type"])
            name = full(j.get("name", rec["name"]))
            content = str(j.get("content", rec["content"]))
            err = check(rtype, content, j.get("ttl"))
            if err:
                return cf_error(400, 9005, err)
            if (name, rtype) != (rec["name"], rec["type"]):
                st.delete(rec["name"], rec["type"])
            new, _ = st.set_record(name, rtype, content, "cloudflare", j.get("ttl"),
                                   j.get("proxied"), zname)
            with st.lock:
                st.records[name][rtype]["id"] = rid
            new["id"] = rid
            return cf_envelope(view(new))
        return cf_error(405, 10405, "Method not allowed")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request, client_address):
        pass


def control_loop(s, state):
    def client(c):
        with c:
            f = c.makefile("rwb")
            for line in f:
                try:
                    out = state.control(json.loads(line))
                except Exception as e:
                    out = {"ok": False, "error": repr(e)}
                f.write((json.dumps(out) + "\n").encode())
                f.flush()

    while True:
        c, _ = s.accept()
        threading.Thread(target=client, args=(c,), daemon=True).start()


def main():
    with open(sys.argv[1]) as f:
        cfg = json.load(f)
    state = State(cfg)
    servers = []
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cfg["cert"], cfg["key"])
    https = Server((cfg["addr"], cfg["https_port"]), Handler)
    https.socket = ctx.wrap_socket(https.socket, server_side=True,
                                   do_handshake_on_connect=False)
    https.scheme = "https"
    servers.append(https)
    if cfg.get("http_port"):
        http = Server((cfg["addr"], cfg["http_port"]), Handler)
        http.scheme = "http"
        servers.append(http)
    for srv in servers:
        srv.state = state
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    ctl = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ctl.bind(cfg["control"])
    ctl.listen(16)
    threading.Thread(target=control_loop, args=(ctl, state), daemon=True).start()
    with open(cfg["ready"] + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(cfg["ready"] + ".tmp", cfg["ready"])
    threading.Event().wait()


if __name__ == "__main__":
    main()
