"""The HTTPS stand-in's Alibaba Cloud DNS and DNSPod, written from the providers'
documentation (not from homeport's C code), with real state:

- alidns: Alibaba Cloud DNS API 2015-01-09, RPC style (Action in x-acs-action, parameters
  in the query), signed ACS3-HMAC-SHA256 ("V3版本请求体&签名机制"): DescribeSubDomainRecords,
  AddDomainRecord, UpdateDomainRecord. Errors are {"RequestId", "HostId", "Code",
  "Message", "Recommend"} with an HTTP 4xx/5xx status (Alibaba Cloud OpenAPI common error
  codes; the DNS API's error code table).
- dnspod: Tencent Cloud API 3.0, service dnspod, version 2021-03-23, signed TC3-HMAC-SHA256
  ("签名方法 v3"): DescribeRecordList, CreateRecord, ModifyRecord. Replies are always HTTP
  200 {"Response": {...}}; errors {"Response": {"Error": {"Code", "Message"}, "RequestId"}}.

Both verify every signature with their own code here, check the clock (Alibaba: 15
minutes; Tencent: 5 minutes), keep records by id (several records of one name and type
can exist, as at the real providers), and can be told to lag their index (a created
record stays out of lookups for a while; DNSPod documents up to 30 s) or skew their
clock (control op "clock": also the Date header of every reply).

Every request is noted for the test log: "action", "verified" (signature checked),
"unchanged" (a write that did not change the record's value: DNSPod bans clients that
send those, so homeport must never).
"""
import calendar
import hashlib
import hmac
import ipaddress
import json
import re
import time
import urllib.parse
import uuid

ALIDNS_VERSION = "2015-01-09"
DNSPOD_VERSION = "2021-03-23"
ALIDNS_SKEW = 15 * 60          # "用户时间和服务器时间超过15分钟" -> InvalidTimeStamp.Expired
DNSPOD_SKEW = 5 * 60           # "Timestamp 和服务器时间相差不得超过五分钟" -> SignatureExpire

DEFAULT_ACCOUNTS = {
    # AccessKey ID -> AccessKey secret, and the zones the account holds
    "alidns": {"keys": {"LTAI5tHomeportTestKey": "alidns-secret-0123456789"},
               "zones": ["ali.example"]},
    # SecretId -> SecretKey, and the zones
    "dnspod": {"keys": {"AKIDhomeportTestSecretId": "dnspod-secret-0123456789"},
               "zones": ["pod.example"]},
}

DNSPOD_LINES = ("默认", "电信", "联通", "移动", "境外", "教育网")


def pct(s):
    """RFC 3986 as both documents say: unreserved kept, UTF-8 bytes as %XX upper case."""
    return urllib.parse.quote(s, safe="-_.~")


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def hmac256(key, msg):
    return hmac.new(key, msg.encode() if isinstance(msg, str) else msg, hashlib.sha256).digest()


def value_ok(rtype, value):
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    return ip.version == (4 if rtype == "A" else 6)


class CloudState:
    """Records of both APIs; the caller holds the stand-in's lock where it says so."""

    def __init__(self, state):
        self.st = state
        self.records = {"alidns": [], "dnspod": []}
        self.next_id = {"alidns": 100000000000001, "dnspod": 556507001}
        self.index_lag = {"alidns": 0.0, "dnspod": 0.0}
        self.nonces = set()
        self.skew = 0.0

    def now(self):
        """The stand-in's clock: real time plus the skew a test asked for."""
        return time.time() + self.skew

    def accounts(self, api):
        return self.st.accounts.get(api, {})

    def zone_of(self, api, name):
        name = name.lower().rstrip(".")
        zones = sorted(self.accounts(api).get("zones", []), key=len, reverse=True)
        for z in zones:
            if name == z or name.endswith("." + z):
                return z
        return None

    def add(self, api, zone, rr, rtype, value, line, ttl, lag=True):
        with self.st.lock:
            rid = self.next_id[api]
            self.next_id[api] += 1
            now = time.time()
            rec = {"id": rid, "zone": zone, "rr": rr, "type": rtype, "value": value,
                   "line": line, "ttl": ttl, "created": now, "updated": now, "updates": 0,
                   "visible_at": now + (self.index_lag[api] if lag else 0)}
            self.records[api].append(rec)
            return dict(rec)

    def find(self, api, zone, rr, rtype=None, line=None, lookup=False):
        now = time.time()
        with self.st.lock:
            return [dict(r) for r in self.records[api]
                    if r["zone"] == zone and r["rr"].lower() == rr.lower()
                    and (rtype is None or r["type"] == rtype.upper())
                    and (line is None or r["line"] == line)
                    and (not lookup or r["visible_at"] <= now)]

    def by_id(self, api, rid):
        with self.st.lock:
            for r in self.records[api]:
                if str(r["id"]) == str(rid):
                    return r
        return None

    def update(self, api, rid, **fields):
        with self.st.lock:
            for r in self.records[api]:
                if str(r["id"]) == str(rid):
                    r.update(fields)
                    r["updated"] = time.time()
                    r["updates"] += 1
                    return dict(r)
        return None

    # -- control ------------------------------------------------------------------------
    def control(self, req):
        op = req["op"]
        api = req.get("api")
        if op == "clock":
            self.skew = float(req.get("skew") or 0)
            return {"ok": True}
        if op == "cloud":
            if req.get("index_lag") is not None:
                self.index_lag[api] = float(req["index_lag"])
            return {"ok": True}
        if op == "cloud_records":
            with self.st.lock:
                recs = [dict(r, name=(r["zone"] if r["rr"] == "@" else r["rr"] + "." + r["zone"]))
                        for r in self.records[api]]
            return {"ok": True, "records": recs}
        if op == "cloud_seed":
            zone = self.zone_of(api, req["name"])
            name = req["name"].lower().rstrip(".")
            rr = "@" if name == zone else name[:-len(zone) - 1]
            line = req.get("line") or ("default" if api == "alidns" else "默认")
            rec = self.add(api, zone, rr, req.get("type", "A"), req["value"], line,
                           req.get("ttl", 600), lag=False)
            return {"ok": True, "record": rec}
        if op == "cloud_delete":
            with self.st.lock:
                self.records[api] = [r for r in self.records[api] if req.get("id") is not None
                                     and str(r["id"]) != str(req["id"])]
            return {"ok": True}
        return None


# ---------------------------------------------------------------------------------------
# Alibaba Cloud DNS

ALI_MESSAGES = {
    "IncompleteSignature": (400, "The request signature does not conform to Aliyun standards."),
    "InvalidAccessKeyId.NotFound": (404, "Specified access key is not found."),
    "InvalidTimeStamp.Format": (400, "Specified time stamp or date value is not well formatted."),
    "InvalidTimeStamp.Expired": (400, "Specified time stamp or date value is expired."),
    "SignatureNonceUsed": (400, "Specified signature nonce was used already."),
    "SignatureDoesNotMatch": (400, "Specified signature is not matched with our calculation."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "InternalError": (500, "The request processing has failed due to some unknown error, "
                           "exception or failure."),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the "
                                "server."),
    "InvalidApi.NotFound": (404, "Specified api is not found, please check your url and method."),
    "InvalidVersion": (400, "Specified parameter Version is not valid."),
    "IncorrectDomainUser": (400, "The domain name does not belong to this user."),
    "DomainRecordDuplicate": (400, "The DNS record already exists."),
    "DomainRecordNotBelongToUser": (400, "The DNS record does not belong to this user."),
    "MissingParameter": (400, "A required parameter is missing."),
    "InvalidParameter": (400, "The specified parameter is not valid."),
}


def ali_error(host, code, message=None):
    status, text = ALI_MESSAGES.get(code, (400, "error"))
    body = {"RequestId": str(uuid.uuid4()).upper(), "HostId": host, "Code": code,
            "Message": message or text,
            "Recommend": "https://api.aliyun.com/troubleshoot?q=%s&product=Alidns" % code}
    return status, body, {}


def ali_ok(body):
    body = dict(body)
    body["RequestId"] = str(uuid.uuid4()).upper()
    return 200, body, {}


def acs3_canonical_query(raw):
    """The canonical query from the query as received: decode each part (no '+' magic),
    then sort and encode as the document says."""
    pairs = []
    for part in raw.split("&") if raw else []:
        k, _, v = part.partition("=")
        pairs.append((urllib.parse.unquote(k), urllib.parse.unquote(v)))
    return "&".join("%s=%s" % (pct(k), pct(v)) for k, v in sorted(pairs)), dict(pairs)


AUTH_ACS3 = re.compile(r"ACS3-HMAC-SHA256 Credential=([^,]+),SignedHeaders=([a-z0-9;-]+),"
                       r"Signature=([0-9a-f]{64})")


def acs3_check(cs, method, path, raw_query, headers, body, note):
    """None when the request is signed right, else the error triple."""
    host = headers.get("Host", "")
    m = AUTH_ACS3.fullmatch(headers.get("Authorization", ""))
    if not m:
        return ali_error(host, "IncompleteSignature")
    key_id, signed, sig = m.groups()
    secret = cs.accounts("alidns").get("keys", {}).get(key_id)
    if secret is None:
        return ali_error(host, "InvalidAccessKeyId.NotFound")
    names = signed.split(";")
    present = {k.lower() for k in headers.keys()}
    must = {n for n in present if n.startswith("x-acs-") or n in ("host", "content-type")}
    if names != sorted(names) or not must <= set(names) or "host" not in names:
        return ali_error(host, "IncompleteSignature")
    try:
        t = calendar.timegm(time.strptime(headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return ali_error(host, "InvalidTimeStamp.Format")
    if abs(cs.now() - t) > ALIDNS_SKEW:
        return ali_error(host, "InvalidTimeStamp.Expired")
    nonce = headers.get("x-acs-signature-nonce", "")
    if not nonce:
        return ali_error(host, "IncompleteSignature")
    if nonce in cs.nonces:
        return ali_error(host, "SignatureNonceUsed")
    payload = sha256_hex(body)
    if headers.get("x-acs-content-sha256") != payload:
        return ali_error(host, "SignatureDoesNotMatch")
    query, _ = acs3_canonical_query(raw_query)
    canon_headers = "".join("%s:%s\n" % (n, (headers.get(n) or "").strip()) for n in names)
    canonical = "\n".join([method, path or "/", query, canon_headers, signed, payload])
    want = hmac.new(secret.encode(), ("ACS3-HMAC-SHA256\n" + sha256_hex(canonical.encode()))
                    .encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        return ali_error(host, "SignatureDoesNotMatch")
    cs.nonces.add(nonce)
    note["verified"] = True
    return None


def ali_record_view(r):
    return {"RR": r["rr"].lower(), "Line": r["line"], "Status": "Enable", "Locked": False,
            "Type": r["type"], "DomainName": r["zone"], "Value": r["value"],
            "RecordId": str(r["id"]), "TTL": r["ttl"], "Weight": 1}


def alidns(cs, method, path, raw_query, headers, body):
    """(status, JSON object, headers, note) for one request."""
    note = {"action": headers.get("x-acs-action"), "verified": False}
    host = headers.get("Host", "")
    err = acs3_check(cs, method, path, raw_query, headers, body, note)
    if err:
        return err + (note,)
    if headers.get("x-acs-version") != ALIDNS_VERSION:
        return ali_error(host, "InvalidVersion") + (note,)
    _, p = acs3_canonical_query(raw_query)
    action = note["action"]
    fn = {"DescribeSubDomainRecords": ali_describe, "AddDomainRecord": ali_add,
          "UpdateDomainRecord": ali_update}.get(action)
    if fn is None:
        return ali_error(host, "InvalidApi.NotFound") + (note,)
    return fn(cs, host, p, note) + (note,)


def ali_describe(cs, host, p, note):
    sub = p.get("SubDomain", "").lower().rstrip(".")
    if not sub:
        return ali_error(host, "MissingParameter", "SubDomain is mandatory for this action.")
    zone = (p.get("DomainName") or "").lower().rstrip(".") or cs.zone_of("alidns", sub)
    if zone not in cs.accounts("alidns").get("zones", []):
        return ali_error(host, "IncorrectDomainUser")
    if sub != zone and not sub.endswith("." + zone):
        return ali_error(host, "InvalidParameter", "SubDomain is not in DomainName.")
    rr = "@" if sub == zone else sub[:-len(zone) - 1]
    recs = cs.find("alidns", zone, rr, p.get("Type") or None, p.get("Line") or None,
                   lookup=True)
    size = int(p.get("PageSize") or 20)
    page = int(p.get("PageNumber") or 1)
    chunk = recs[(page - 1) * size: page * size]
    return ali_ok({"TotalCount": len(recs), "PageNumber": page, "PageSize": len(chunk),
                   "DomainRecords": {"Record": [ali_record_view(r) for r in chunk]}})


def ali_write_args(cs, host, p):
    for k in ("RR", "Type", "Value"):
        if not p.get(k):
            return None, ali_error(host, "MissingParameter", "%s is mandatory for this action." % k)
    rtype = p["Type"].upper()
    if rtype not in ("A", "AAAA") or not value_ok(rtype, p["Value"]):
        return None, ali_error(host, "InvalidParameter", "The value of Value is not valid.")
    try:
        ttl = int(p.get("TTL") or 600)
    except ValueError:
        return None, ali_error(host, "InvalidParameter", "The value of TTL is not valid.")
    return {"rr": p["RR"], "type": rtype, "value": p["Value"], "ttl": ttl,
            "line": p.get("Line") or "default"}, None


def ali_add(cs, host, p, note):
    zone = (p.get("DomainName") or "").lower().rstrip(".")
    if zone not in cs.accounts("alidns").get("zones", []):
        return ali_error(host, "IncorrectDomainUser")
    a, err = ali_write_args(cs, host, p)
    if err:
        return err
    if any(r["value"] == a["value"] for r in cs.find("alidns", zone, a["rr"], a["type"],
                                                     a["line"])):
        return ali_error(host, "DomainRecordDuplicate")
    rec = cs.add("alidns", zone, a["rr"], a["type"], a["value"], a["line"], a["ttl"])
    note["record_id"] = str(rec["id"])
    return ali_ok({"RecordId": str(rec["id"])})


def ali_update(cs, host, p, note):
    rec = cs.by_id("alidns", p.get("RecordId", ""))
    if rec is None or rec["zone"] not in cs.accounts("alidns").get("zones", []):
        return ali_error(host, "DomainRecordNotBelongToUser")
    a, err = ali_write_args(cs, host, p)
    if err:
        return err
    note["record_id"] = str(rec["id"])
    if (rec["rr"].lower(), rec["type"], rec["value"], rec["line"]) == \
            (a["rr"].lower(), a["type"], a["value"], a["line"]):
        note["unchanged"] = True
        return ali_error(host, "DomainRecordDuplicate")
    note["unchanged"] = rec["value"] == a["value"]
    cs.update("alidns", rec["id"], rr=a["rr"], type=a["type"], value=a["value"], ttl=a["ttl"],
              line=a["line"])
    return ali_ok({"RecordId": str(rec["id"])})


def ali_failure(mode, retry_after):
    """The stand-in's failure switch, as Alibaba would answer."""
    if mode == "throttle":
        return ali_error("alidns.aliyuncs.com", "Throttling.User")
    if mode == "500":
        return ali_error("alidns.aliyuncs.com", "InternalError")
    if mode == "429":
        return 429, {"Code": "Throttling", "Message": "Too many requests."}, \
            {"Retry-After": 120 if retry_after is None else retry_after}
    return None


# ---------------------------------------------------------------------------------------
# DNSPod

POD_MESSAGES = {
    "AuthFailure.InvalidAuthorization": "Authorization in the request header is invalid.",
    "AuthFailure.SecretIdNotFound": "Key does not exist. Check if the key has been deleted or "
                                    "disabled in the console.",
    "AuthFailure.SignatureExpire": "Signature expired. Timestamp and server time cannot differ "
                                   "by more than five minutes. Please ensure your current local "
                                   "time matches the standard time.",
    "AuthFailure.SignatureFailure": "Invalid signature. Signature calculation error. Please "
                                    "ensure you've followed the signature calculation process.",
    "InvalidAction": "The API does not exist.",
    "NoSuchVersion": "The API version does not exist.",
    "InvalidParameter": "Invalid parameter.",
    "MissingParameter": "A parameter is missing.",
    "InvalidParameterValue.DomainNotExists": "The current domain is incorrect. Return to the "
                                             "previous step and try again.",
    "InvalidParameter.DomainRecordExist": "The record already exists and does not need to be "
                                          "added again.",
    "InvalidParameter.RecordIdInvalid": "The record number is incorrect.",
    "InvalidParameter.RecordLineInvalid": "The record split zone is incorrect.",
    "InvalidParameter.RecordValueInvalid": "The record value is incorrect.",
    "ResourceNotFound.NoDataOfRecord": "Empty record list.",
    "RequestLimitExceeded": "The number of requests exceeds the frequency limit.",
    "InternalError": "Internal error.",
}


def pod_reply(body):
    body = dict(body)
    body["RequestId"] = str(uuid.uuid4())
    return 200, {"Response": body}, {}


def pod_error(code, message=None):
    return pod_reply({"Error": {"Code": code, "Message": message or POD_MESSAGES.get(code, code)}})


AUTH_TC3 = re.compile(r"TC3-HMAC-SHA256 Credential=([^/]+)/(\d{4}-\d{2}-\d{2})/([a-z0-9]+)/"
                      r"tc3_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})")


def tc3_check(cs, method, headers, body, note):
    m = AUTH_TC3.fullmatch(headers.get("Authorization", ""))
    if not m:
        return pod_error("AuthFailure.InvalidAuthorization")
    secret_id, date, service, signed, sig = m.groups()
    secret = cs.accounts("dnspod").get("keys", {}).get(secret_id)
    if secret is None:
        return pod_error("AuthFailure.SecretIdNotFound")
    try:
        ts = int(headers.get("X-TC-Timestamp", ""))
    except ValueError:
        return pod_error("MissingParameter", "The request is missing X-TC-Timestamp.")
    if abs(cs.now() - ts) > DNSPOD_SKEW:
        return pod_error("AuthFailure.SignatureExpire")
    names = signed.split(";")
    if (names != sorted(names) or "content-type" not in names or "host" not in names
            or date != time.strftime("%Y-%m-%d", time.gmtime(ts)) or service != "dnspod"):
        return pod_error("AuthFailure.SignatureFailure")
    canon_headers = "".join("%s:%s\n" % (n, (headers.get(n) or "").strip().lower()) for n in names)
    canonical = "\n".join([method, "/", "", canon_headers, signed, sha256_hex(body)])
    sts = "TC3-HMAC-SHA256\n%d\n%s/%s/tc3_request\n%s" % (ts, date, service,
                                                          sha256_hex(canonical.encode()))
    k = hmac256(("TC3" + secret).encode(), date)
    k = hmac256(k, service)
    k = hmac256(k, "tc3_request")
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, sig):
        return pod_error("AuthFailure.SignatureFailure")
    note["verified"] = True
    return None


def dnspod(cs, method, path, raw_query, headers, body):
    note = {"action": headers.get("X-TC-Action"), "verified": False}
    if method != "POST" or path != "/":
        return pod_error("InvalidParameter", "API 3.0 calls are POST /.") + (note,)
    err = tc3_check(cs, method, headers, body, note)
    if err:
        return err + (note,)
    if headers.get("X-TC-Version") != DNSPOD_VERSION:
        return pod_error("NoSuchVersion") + (note,)
    if not (headers.get("Content-Type") or "").startswith("application/json"):
        return pod_error("InvalidParameter", "Content-Type must be application/json.") + (note,)
    try:
        p = json.loads(body)
        if not isinstance(p, dict):
            raise ValueError
    except ValueError:
        return pod_error("InvalidParameter", "The body is not a JSON object.") + (note,)
    fn = {"DescribeRecordList": pod_describe, "CreateRecord": pod_create,
          "ModifyRecord": pod_modify}.get(note["action"])
    if fn is None:
        return pod_error("InvalidAction") + (note,)
    zone = str(p.get("Domain") or "").lower().rstrip(".")
    if zone not in cs.accounts("dnspod").get("zones", []):
        return pod_error("InvalidParameterValue.DomainNotExists") + (note,)
    return fn(cs, zone, p, note) + (note,)


def pod_view(r):
    return {"RecordId": r["id"], "Value": r["value"], "Status": "ENABLE",
            "UpdatedOn": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["updated"])),
            "Name": r["rr"], "Line": r["line"], "LineId": "0", "Type": r["type"], "Weight": None,
            "MonitorStatus": "", "Remark": "", "TTL": r["ttl"], "MX": 0, "DefaultNS": False}


def pod_describe(cs, zone, p, note):
    sub = p.get("Subdomain")
    recs = cs.find("dnspod", zone, sub if sub else "", p.get("RecordType") or None,
                   p.get("RecordLine") or None, lookup=True) if sub else []
    if not sub:
        with cs.st.lock:
            recs = [dict(r) for r in cs.records["dnspod"] if r["zone"] == zone
                    and r["visible_at"] <= time.time()]
    if not recs:
        return pod_error("ResourceNotFound.NoDataOfRecord")
    limit = int(p.get("Limit") or 100)
    offset = int(p.get("Offset") or 0)
    chunk = recs[offset:offset + limit]
    return pod_reply({"RecordCountInfo": {"SubdomainCount": len(recs), "TotalCount": len(recs),
                                          "ListCount": len(chunk)},
                      "RecordList": [pod_view(r) for r in chunk]})


def pod_write_args(p):
    rtype = str(p.get("RecordType") or "").upper()
    line = p.get("RecordLine")
    value = p.get("Value")
    if not rtype or not line or value is None:
        return None, pod_error("MissingParameter")
    if line not in DNSPOD_LINES:
        return None, pod_error("InvalidParameter.RecordLineInvalid")
    if rtype not in ("A", "AAAA") or not value_ok(rtype, str(value)):
        return None, pod_error("InvalidParameter.RecordValueInvalid")
    ttl = p.get("TTL", 600)
    if not isinstance(ttl, int) or not 1 <= ttl <= 604800:
        return None, pod_error("InvalidParameter", "TTL is invalid.")
    return {"rr": str(p.get("SubDomain") or "@"), "type": rtype, "line": line,
            "value": str(value), "ttl": ttl}, None


def pod_create(cs, zone, p, note):
    a, err = pod_write_args(p)
    if err:
        return err
    if any(r["value"] == a["value"] for r in cs.find("dnspod", zone, a["rr"], a["type"],
                                                     a["line"])):
        return pod_error("InvalidParameter.DomainRecordExist")
    rec = cs.add("dnspod", zone, a["rr"], a["type"], a["value"], a["line"], a["ttl"])
    note["record_id"] = rec["id"]
    return pod_reply({"RecordId": rec["id"]})


def pod_modify(cs, zone, p, note):
    rid = p.get("RecordId")
    rec = cs.by_id("dnspod", rid) if isinstance(rid, int) else None
    if rec is None or rec["zone"] != zone:
        return pod_error("InvalidParameter.RecordIdInvalid")
    a, err = pod_write_args(p)
    if err:
        return err
    note["record_id"] = rid
    note["unchanged"] = rec["value"] == a["value"]
    cs.update("dnspod", rid, rr=a["rr"], type=a["type"], value=a["value"], ttl=a["ttl"],
              line=a["line"])
    return pod_reply({"RecordId": rid})


def pod_failure(mode, retry_after):
    if mode == "throttle":
        return pod_error("RequestLimitExceeded")
    if mode == "500":
        return pod_error("InternalError")
    if mode == "429":
        return 429, {"Response": {"Error": {"Code": "RequestLimitExceeded",
                                            "Message": "Too many requests."}}}, \
            {"Retry-After": 120 if retry_after is None else retry_after}
    return None


HANDLERS = {"alidns": alidns, "dnspod": dnspod}
FAILURES = {"alidns": ali_failure, "dnspod": pod_failure}
