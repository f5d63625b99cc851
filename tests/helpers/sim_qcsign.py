#!/usr/bin/env python3
"""Builds a signed QingCloud RTC GET /v1/cloudRecord URL independently of the C signer,
with the reference document's algorithm (urllib.parse.quote, hmac, hashlib, base64).

usage: sim_qcsign.py BASE AK SK [--skew SECONDS] [--omit PARAM] [--tamper] [--path P] k=v ...
Prints the URL."""
import base64
import datetime
import hashlib
import hmac
import sys
from urllib.parse import quote


def body_hex_md5(body):
    return hashlib.md5(b"null" if body is None else body).hexdigest()


def canonical_query_string(query_params):
    out = []
    for key in sorted(query_params.keys()):
        if key == "signature":
            continue
        out.append(quote(key) + "=" + quote(str(query_params[key])))
    return "&".join(out)


def sign_sha256(sk, string_to_sign):
    h = hmac.new(sk.encode("utf-8"), string_to_sign.encode("utf-8"), digestmod=hashlib.sha256)
    return str(base64.b64encode(h.digest()).strip(), "utf-8")


def main(argv):
    base, ak, sk = argv[0], argv[1], argv[2]
    skew, omit, tamper, path = 0, None, False, "/v1/cloudRecord"
    params = {}
    rest = argv[3:]
    i = 0
    while i < len(rest):
        a = rest[i]
        if a == "--skew":
            skew = int(rest[i + 1]); i += 2; continue
        if a == "--omit":
            omit = rest[i + 1]; i += 2; continue
        if a == "--tamper":
            tamper = True; i += 1; continue
        if a == "--path":
            path = rest[i + 1]; i += 2; continue
        k, v = a.split("=", 1)
        params[k] = v
        i += 1
    ts = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=skew)
    params.update({"signature_method": "HmacSHA256", "signature_version": 1,
                   "access_key_id": ak, "time_stamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ")})
    sorted_query_string = canonical_query_string(params)
    string_sign = "GET\n" + path + "/\n" + sorted_query_string + "\n" + body_hex_md5(None)
    signature = sign_sha256(sk, string_sign)
    if tamper:  # flip one character of the signature
        signature = ("A" if signature[0] != "A" else "B") + signature[1:]
    qs = sorted_query_string + "&signature=" + quote(signature, safe="")
    if omit:
        qs = "&".join(p for p in qs.split("&") if p.split("=", 1)[0] != omit)
    print(base + path + "?" + qs)


if __name__ == "__main__":
    main(sys.argv[1:])
