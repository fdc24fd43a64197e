#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Source of jcapd's OpenAPI 3.0 document: writes openapi.c (the C string the daemon
serves at /openapi.json). Run after editing: python3 apps/jcapd/openapi.py
tests/api/test_packet_capture_api.py checks the document against the live server."""
import json
import os

P = "/packet_capture/capture"


def ref(name):
    return {"$ref": "#/components/schemas/" + name}


def obj(props, required=None, extra=False):
    o = {"type": "object", "properties": props}
    if required is not None:
        o["required"] = required
    if not extra:
        o["additionalProperties"] = False
    return o


def integer(lo=None, hi=None, desc=None, fmt="int64"):
    o = {"type": "integer", "format": fmt}
    if lo is not None:
        o["minimum"] = lo
    if hi is not None:
        o["maximum"] = hi
    if desc:
        o["description"] = desc
    return o


def string(desc=None, enum=None):
    o = {"type": "string"}
    if desc:
        o["description"] = desc
    if enum:
        o["enum"] = enum
    return o


def boolean(desc=None):
    o = {"type": "boolean"}
    if desc:
        o["description"] = desc
    return o


U64 = integer(0)
NUM = {"type": "number"}

ERR_DESC = {
    400: "Invalid JSON, unknown or invalid field or query parameter",
    401: "Missing bearer token",
    403: "Wrong token, a token whose scope does not allow the operation, or a path outside "
         "the allowed directories",
    409: "Not valid in the current session state",
    413: "Request body larger than max_body_bytes",
    415: "Body is not application/json",
}


def err(code):
    return {"description": ERR_DESC[code],
            "content": {"application/json": {"schema": ref("Error")}}}


def ok(schema, desc="OK"):
    return {"description": desc, "content": {"application/json": {"schema": schema}}}


# What a token needs to be allowed an operation (issue 18); each scope includes the
# ones before it. jcapd's route table (routes.c) says the same, and
# tests/api/test_jcapd_scopes.py checks every operation against this document.
SCOPES = ["none", "read", "control", "admin"]
SCOPE_DESC = ("x-required-scope: the token scope an operation needs (none < read < "
              "control < admin; a bare token in the token file is admin). 'read' "
              "operations need a token only with auth_reads (Prometheus /metrics: "
              "as metrics_auth says).")


def security(scope):
    """OpenAPI 3.0 lists no scopes for a bearer scheme: x-required-scope names it.
    Reads are open by default (auth_reads off), so only control and admin list
    the bearer scheme."""
    return [{"bearerAuth": []}] if scope in ("control", "admin") else []


def op(summary, ok_schema, codes, auth=False, body=None, params=None, desc=None,
       scope=None):
    o = {"summary": summary, "responses": {"200": ok(ok_schema)}}
    o["x-required-scope"] = scope or ("control" if auth else "read")
    if desc:
        o["description"] = desc
    for c in codes:
        o["responses"][str(c)] = err(c)
    o["responses"]["default"] = {"description": "Engine or daemon failure",
                                 "content": {"application/json": {"schema": ref("Error")}}}
    o["security"] = security(o["x-required-scope"])
    if body:
        o["requestBody"] = {"required": False,
                            "content": {"application/json": {"schema": body}}}
    if params:
        o["parameters"] = params
    return o


def qparam(name, schema, desc, required=False):
    return {"name": name, "in": "query", "required": required, "schema": schema,
            "description": desc}


skip_names = ["non_ip", "truncated", "malformed", "unsupported_link", "fragment_unmatched",
              "filtered", "flow_disabled", "sampled_out", "tunnel_too_deep"]
expire_names = ["idle", "active", "end", "evicted", "shutdown"]

_insp = ["flows", "pool_full", "dpi_flows", "dpi_pool_full", "dpi_identified",
         "tcp_reassembly_gaps", "reclaimed"]
def target_opts(whose, nf, udp):
    """Record contents and pacing of an export target (jcap --fields,
    --ipfix-pen, --export-rate, --sample-scale): /start's for the config
    file's targets, /netflow/export/enable's for its exporter."""
    return {
        "sample_scale": boolean(whose + ": packet and octet counts times the sampling "
                                "interval (jcap --sample-scale)"),
        "fields": string(nf + ": record fields beyond the default, as jcap --fields "
                         "(+mac,+vlan,+app,... or all); docs/EXPORT.md"),
        "ipfix_pen": integer(1, 4294967295, "enterprise number of jcap's own IPFIX elements "
                             "(needed by the fields tunnel, community_id, app, tcp, geo)"),
        "export_rate": {"oneOf": [integer(1, 4294967295), string(enum=["unpaced"])],
                        "description": udp + ": records/s at most (jcap --export-rate; "
                                       "default 20000 for pcap_file, unpaced live)"}}


# -b ebpf: why the kernel program handed packets up to user space
_ebpf_up = ["non_ip", "vlan", "fragment", "tunnel", "ext_header", "malformed", "map_full",
            "filter"]
stats_props = {
    "packets": U64, "bytes": U64, "packets_in_flows": U64, "bytes_in_flows": U64,
    "skipped": obj({k: U64 for k in skip_names}, skip_names),
    "drops": obj({
        "kernel": obj({k: U64 for k in ["dropped", "ifdrops", "freeze_q", "xdp_rx_ring_full",
                                        "xdp_fill_ring_empty"]},
                      ["dropped", "ifdrops", "freeze_q", "xdp_rx_ring_full",
                       "xdp_fill_ring_empty"]),
        "export": obj({"queue": U64, "tcp_queue": U64}, ["queue", "tcp_queue"]),
        "writer": obj({"queue": U64}, ["queue"]),
        "flows": obj({"dropped_records": U64, "packets_in_dropped_records": U64},
                     ["dropped_records", "packets_in_dropped_records"]),
    }, ["kernel", "export", "writer", "flows"]),
    "pps": dict(NUM, description="packets per second over the rate window"),
    "bps": dict(NUM, description="wire bits per second over the rate window"),
    "flows": obj({"active": U64, "created": U64, "exported": U64,
                  "expired": obj({k: U64 for k in expire_names}, expire_names)},
                 ["active", "created", "exported", "expired"]),
    "kernel": obj({"packets": U64}, ["packets"]),
    "dpdk": obj({k: U64 for k in ["ipackets", "imissed", "rx_nombuf", "ierrors"]},
                ["ipackets", "imissed", "rx_nombuf", "ierrors"]),
    "ebpf": obj({"seen": U64, "metered": U64,
                 "handed_up": obj({k: U64 for k in _ebpf_up}, _ebpf_up),
                 "ring_full": U64, "errors": U64, "harvests": U64, "harvest_ns": U64,
                 "harvested_flows": U64},
                ["seen", "metered", "handed_up", "ring_full", "errors", "harvests",
                 "harvest_ns", "harvested_flows"]),
    "export": obj({k: U64 for k in ["records", "messages", "errors", "not_exportable",
                                    "delivered", "failed", "in_flight", "retries",
                                    "buffer_drops"]},
                  ["records", "messages", "errors", "not_exportable", "delivered", "failed",
                   "in_flight", "retries", "buffer_drops"]),
    "writer": obj({k: U64 for k in ["packets", "bytes", "files", "errors"]},
                  ["packets", "bytes", "files", "errors"]),
    "fragments": obj({"tracked": U64, "matched": U64, "tunnel": U64},
                     ["tracked", "matched", "tunnel"]),
    "inspect": obj({k: U64 for k in _insp}, _insp),
    "geoip": obj({"lookups": U64}, ["lookups"]),
    "ended_ring_records": U64, "first_ns": U64, "last_ns": U64,
}
stats_req = list(stats_props)
worker_props = dict(stats_props, worker=integer(0))

states = ["idle", "starting", "running", "done", "stopped", "failed"]

flow_fields = ["src_ip", "dst_ip", "src_port", "dst_port", "proto", "ip_version", "vlan",
               "packets", "bytes", "rev_packets", "rev_bytes", "tcp_flags", "rev_tcp_flags",
               "first_ns", "last_ns", "icmp_type", "icmp_code", "end_reason", "worker"]
flow_props = {}
for f in flow_fields:
    if f in ("src_ip", "dst_ip"):
        flow_props[f] = string("IPv4 or IPv6 address text")
    elif f == "end_reason":
        flow_props[f] = string("why the flow left the table; for active flows the "
                               "library's name for a flow still in the table")
    else:
        flow_props[f] = U64
# link and path identity (issue 11): present only where they apply, see docs/EXPORT.md
flow_props.update({
    "community_id": string("Community ID v1 of the innermost tuple"),
    "interface": U64,
    "src_mac": string("aa:bb:cc:dd:ee:ff, first frame src -> dst"),
    "dst_mac": string("aa:bb:cc:dd:ee:ff"),
    "vlan_inner": U64,
    "mpls_labels": {"type": "array", "items": U64},
    "mpls_exp": {"type": "array", "items": U64},
    "tunnel_type": string("vxlan, geneve, gre, nvgre, erspan, pptp, gtpu, ipip, mplsudp, "
                          "mplspw, teredo, ayiya"),
    "tunnel_id": U64, "rev_tunnel_id": U64,
    "outer_src_ip": string("outermost IP source of the first packet"),
    "outer_dst_ip": string("outermost IP destination of the first packet"),
    "tos": U64, "dscp": U64, "min_ttl": U64, "max_ttl": U64,
    "rev_tos": U64, "rev_dscp": U64, "rev_min_ttl": U64, "rev_max_ttl": U64,
})
# transport health and application fields (issue 12): payload octets always, the others
# only when known (docs/EXPORT.md); strings are the wire's bytes, JSON-escaped
flow_props.update({k: U64 for k in (
    "payload_bytes", "rev_payload_bytes", "retrans_packets", "retrans_bytes",
    "rev_retrans_packets", "rev_retrans_bytes", "ooo_packets", "rev_ooo_packets", "zero_win",
    "rev_zero_win", "rtt_us", "rtt_syn_us", "app_id", "app_master_id", "tls_version",
    "dns_qtype", "dns_rcode", "dns_answers", "http_status", "src_asn", "dst_asn")})
flow_props.update({
    "conn_state": string("TCP connection state as Zeek's conn.log names it",
                         enum=["S0", "S1", "SF", "REJ", "S2", "S3", "RSTO", "RSTR", "RSTOS0",
                               "RSTRH", "SH", "SHR", "OTH"]),
    "history": string("Zeek conn.log history: upper case src side, lower case dst side"),
    "app": string("nDPI application, MASTER.APP or APP (e.g. TLS.YouTube)"),
    "app_category": string("nDPI category"),
    "dpi_confidence": string("how nDPI decided", enum=["unknown", "port", "ip", "cache",
                                                      "dpi"]),
    "tls_sni": string("TLS or QUIC ClientHello server_name"),
    "tls_alpn": string("ALPN: the ServerHello's, else the ClientHello's first"),
    "ja4": string("FoxIO JA4 of the ClientHello"),
    "ja3": string("JA3 MD5 of the ClientHello, hex"),
    "dns_qname": string("first question's name, no trailing dot"),
    "http_method": string(), "http_host": string(),
    "http_url": string("request target as sent"), "http_user_agent": string(),
    "src_country": string("ISO 3166 alpha-2"), "dst_country": string("ISO 3166 alpha-2"),
    "src_as_org": string(), "dst_as_org": string(),
})

schemas = {
    "Error": obj({"error": string("what is wrong"),
                  "field": string("the request field or query parameter at fault")},
                 ["error"]),
    "Backend": obj({"name": string(), "available": boolean(), "preference": integer(),
                    "reason": string("why it is (un)available")},
                   ["name", "available", "preference", "reason"]),
    "BackendList": obj({"backends": {"type": "array", "items": ref("Backend")}}, ["backends"]),
    "PcapOut": obj({
        "dir": string("output directory, inside an allowed directory"),
        "format": string(enum=["pcap", "pcapng"]),
        "rotate_size_mb": integer(1, 1048576), "rotate_seconds": integer(1, 604800),
        "max_files": integer(1, 1000000), "snaplen": integer(64, 262144),
        "filter": string("BPF: only matching packets are stored")}, ["dir"]),
    "StartRequest": obj({
        "interface": string("live interface (exactly one of interface and pcap_file)"),
        "pcap_file": string("offline input, absolute path inside an allowed directory"),
        "pcap_files": {"type": "array", "minItems": 1, "maxItems": 64, "items": string(),
                       "description": "several offline inputs (instead of pcap_file), "
                       "merged in time order; each an absolute path inside an allowed "
                       "directory, plain, gzip, zstd or lz4"},
        "backend": string(enum=["auto", "dpdk", "pcap", "afpacket", "afxdp", "ebpf", "file"]),
        "buffer_size_mb": integer(64, 2048), "workers": integer(1, 64),
        "filter": string("tcpdump-syntax BPF"), "snaplen": integer(64, 262144),
        "promiscuous": boolean(), "tstamp": string(enum=["kernel", "hardware", "ptp", "ntp"]),
        "duration_sec": integer(1, 31536000), "max_packets": integer(1),
        "decrypt_key_file": string("key for an encrypted pcap_file"),
        "pcap_out": ref("PcapOut"),
        "dpdk_eal": string("dpdk: EAL arguments (interface dpdk:PORT); no -d, and no file "
                           "but a --vdev's rx_pcap=PATH inside an allowed directory"),
        "ebpf_hook": string("ebpf: where the kernel program meters (default xdp)",
                            enum=["xdp", "tc"]),
        "ebpf_map_flows": integer(16, 16777216, "ebpf: flows per kernel map; default: the "
                                  "config file's ebpf_map_flows (65536)"),
        "ebpf_drop": boolean("ebpf: drop packets after metering (a dedicated capture port)"),
        "decap": string("tunnels to meter inside: all (default), none, or names "
                        "(vxlan,geneve,gre,nvgre,erspan,pptp,gtpu,ipip,mplsudp,mplspw,"
                        "teredo,ayiya); docs/TUNNELS.md"),
        "tunnel_ports": string("UDP tunnel ports, e.g. vxlan=4789+8472,gtpu=2152"),
        "inspect": string("what each flow's first packets are inspected for: all, none or "
                          "names (dpi,tls,quic,dns,http,tcp); default: the config file's "
                          "inspect (all); docs/INSPECTION.md"),
        "inspect_flows": integer(1, 16777216, "flows inspected at a time per worker "
                                 "(default: the config file's inspect_flows, 65536)"),
        "geoip_city": string("MaxMind City or Country database inside an allowed directory: "
                             "src_country, dst_country (default: the config file's geoip_city; "
                             "\"\" for none)"),
        "geoip_asn": string("MaxMind ASN database inside an allowed directory: src_asn, "
                            "dst_asn, src_as_org, dst_as_org (default: the config file's "
                            "geoip_asn; \"\" for none)"),
        "sample": integer(1, 4294967295, "meter 1 in N packets (jcap --sample N); the "
                          "others count as skipped sampled_out; NetFlow/IPFIX exports "
                          "carry the interval"),
        "sample_random": boolean("sample each packet with probability 1/N instead of every "
                                 "N-th (jcap --sample N:random)"),
        **target_opts("the config file's export targets", "the config file's IPFIX/NetFlow "
                      "v9 export targets", "the config file's UDP export targets")}),
    "Status": obj({
        "state": string(enum=states), "backend": string("backend in use"),
        "backend_requested": string(), "backend_reason": string("why that backend"),
        "interface": string(), "pcap_file": string(),
        "start_time": string("RFC 3339 UTC, empty if never started"), "start_ns": U64,
        "stop_time": string(), "stop_ns": U64, "uptime_sec": NUM, "workers": integer(0),
        "tstamp_source": string(), "tstamp_detail": string(), "xdp_mode": string(),
        "error": string("failed: the engine's message"),
        "graceful": boolean("stopped: how"), "encrypted": boolean(),
        "input_bytes": dict(U64, description="offline: size of the input file"),
        "input_done": dict(U64, description="offline: bytes of it read so far")},
        ["state", "backend", "backend_requested", "backend_reason", "interface", "pcap_file",
         "start_time", "start_ns", "stop_time", "stop_ns", "uptime_sec", "workers",
         "tstamp_source", "tstamp_detail", "xdp_mode"]),
    "StopRequest": obj({"graceful": boolean("flush every live flow to every exporter "
                                            "(default true)")}),
    "Stats": obj(stats_props, stats_req),
    "WorkerStats": obj(worker_props, stats_req + ["worker"]),
    "StopResponse": obj({"state": string(enum=["stopped"]), "graceful": boolean(),
                         "stats": ref("Stats")}, ["state", "graceful", "stats"]),
    "Metrics": obj({"state": string(enum=states), "rate_window_sec": NUM,
                    "workers_count": integer(0), "total": ref("Stats"),
                    "workers": {"type": "array", "items": ref("WorkerStats")}},
                   ["state", "rate_window_sec", "workers_count", "total", "workers"]),
    "FlowMeterRequest": obj({
        "table_size": integer(0, 16777216, "flow slots, 4096..16777216; 0: 1048576 for a "
                              "file session, 65536 live (the daemon's flow_table_size "
                              "when absent)"),
        "idle_timeout_sec": integer(1, 86400),
        "active_timeout_sec": integer(1, 604800), "uniflow": boolean(),
        "ended_ring_size": integer(0, 16777216), "community_id_seed": integer(0, 65535)}),
    "FlowMeterResponse": obj({
        "flow_metering": obj({"enabled": boolean(), "table_size": U64,
                              "idle_timeout_sec": U64, "active_timeout_sec": U64,
                              "uniflow": boolean(), "ended_ring_size": U64,
                              "community_id_seed": U64},
                             ["enabled", "table_size", "idle_timeout_sec",
                              "active_timeout_sec", "uniflow", "ended_ring_size",
                              "community_id_seed"]),
        "applies": string(enum=["next_start"])}, ["flow_metering", "applies"]),
    "Flow": obj(flow_props, flow_fields),
    "FlowList": obj({
        "state": string(enum=["active", "all"]),
        "sort_by": string(enum=["bytes", "packets", "duration", "last_seen"]),
        "limit": U64, "matched": U64, "total": U64, "truncated": boolean(),
        "returned": U64, "flows": {"type": "array", "items": ref("Flow")}},
        ["state", "sort_by", "limit", "matched", "total", "truncated", "returned", "flows"]),
    "NetflowRequest": obj({
        "version": integer(5, 10, "5, 9 or 10 (IPFIX)"),
        "collector": string("host name or address"), "port": integer(1, 65535),
        "transport": string(enum=["udp", "tcp", "file"]),
        "path": string("file transport: output file inside an allowed directory"),
        "template_refresh_sec": integer(1, 86400),
        "observation_domain": integer(0, 4294967295), "mtu": integer(576, 65535),
        "uniflow": boolean(), "nanoseconds": boolean(),
        **target_opts("this exporter", "version 9 or 10", "udp transport")}, ["version"]),
    "NetflowResponse": obj({
        "version": integer(), "transport": string(), "collector": string(),
        "port": integer(), "path": string(), "template_refresh_sec": integer(),
        "observation_domain": integer(), "applies": string(enum=["now", "next_start"]),
        "exporters": integer()},
        ["version", "transport", "collector", "port", "path", "applies", "exporters"]),
    "EncryptionRequest": obj({
        "algorithm": string(enum=["aes-256-gcm", "aes-128-gcm", "chacha20-poly1305"]),
        "key_file": string("32 raw bytes or 64 hex digits; never send the key itself")},
        ["key_file"]),
    "EncryptionResponse": obj({"algorithm": string(), "key_file": string(),
                               "applies": string(enum=["now", "next_start"])},
                              ["algorithm", "key_file", "applies"]),
    "VerifyResult": obj({
        "result": string(enum=["valid", "invalid_signature", "wrong_key_type", "unreadable",
                               "weak_key"]),
        "valid": boolean(), "code": integer(0, 4), "detail": string(), "image": string(),
        "signature": string(), "public_key": string(), "digest": string()},
        ["result", "valid", "code", "detail", "image", "signature", "public_key", "digest"]),
    "Health": obj({"status": string(enum=["ok"]), "session": string(enum=states),
                   "version": string()}, ["status", "session", "version"]),
}

W = [400, 401, 403, 413, 415]
paths = {
    P + "/backends": {"get": op("Every capture backend, available or not, with the reason",
                                ref("BackendList"), [400])},
    P + "/start": {"post": op(
        "Start a capture session (live interface or offline pcap_file)", ref("Status"),
        [400, 401, 403, 409, 413, 415], auth=True, body=ref("StartRequest"),
        desc="409 while a session runs. Flow metering, exporters and encryption enabled "
             "earlier apply to this session. The reply is the new session's status.")},
    P + "/stop": {"post": op("Stop the session", ref("StopResponse"),
                             [400, 401, 403, 409, 413, 415], auth=True,
                             body=ref("StopRequest"),
                             desc="409 when no session exists or it was already stopped.")},
    P + "/status": {"get": op("Session state, backend in use and why, times, workers",
                              ref("Status"), [400])},
    P + "/metrics": {"get": op("Counters, drops by stage and reason, rates; total and per "
                               "worker", ref("Metrics"), [400])},
    P + "/flow/meter/enable": {"post": op(
        "Set flow metering for the next session", ref("FlowMeterResponse"), W, auth=True,
        body=ref("FlowMeterRequest"))},
    P + "/flows": {"get": op(
        "Flows in the flow record format", ref("FlowList"), [400],
        params=[qparam("limit", integer(0, 1000000), "most flows returned, 0: all "
                       "(default 10)"),
                qparam("sort_by", string(enum=["bytes", "packets", "duration", "last_seen"]),
                       "descending order by this key (default bytes)"),
                qparam("ip", string(), "address or CIDR on either side"),
                qparam("port", integer(0, 65535), "port on either side"),
                qparam("proto", string(), "tcp, udp, icmp, icmpv6, sctp, gre, esp or "
                       "0..255"),
                qparam("community_id", string(), "Community ID (\"1:...\") exactly"),
                qparam("tunnel_id", integer(0, 4294967295),
                       "VNI, GRE key, ERSPAN session or TEID (either direction)"),
                qparam("mac", string(), "MAC address aa:bb:cc:dd:ee:ff on either side"),
                qparam("app", string(), "glob (*, ?, [...]) on app, case-sensitive"),
                qparam("sni", string(), "glob on tls_sni, ASCII case ignored"),
                qparam("dns_name", string(), "glob on dns_qname, ASCII case ignored"),
                qparam("country", string(), "ISO 3166 alpha-2 of either end, any case"),
                qparam("asn", integer(0, 4294967295), "AS number of either end"),
                qparam("state", string(enum=["active", "all"]),
                       "all: add the flows that ended since the session started")])},
    P + "/netflow/export/enable": {"post": op(
        "Add a NetFlow v5/v9 or IPFIX exporter", ref("NetflowResponse"),
        [400, 401, 403, 409, 413, 415], auth=True, body=ref("NetflowRequest"),
        desc="Applies now to a running session and to every later one. 409: the "
             "exporter is already on in the running session, or 8 exporters exist.")},
    P + "/encryption/enable": {"post": op(
        "Encrypt the packets stored by pcap_out", ref("EncryptionResponse"), W, auth=True,
        body=ref("EncryptionRequest"))},
    P + "/firmware/verify": {"get": op(
        "Verify a detached signature over a firmware or program image",
        ref("VerifyResult"), [400, 401, 403], scope="admin",
        params=[qparam("image", string(), "image file", True),
                qparam("signature", string(), "detached signature file", True),
                qparam("public_key", string(), "PEM public key file", True),
                qparam("digest", string(enum=["sha256", "sha384", "sha512"]), "digest"),
                qparam("padding", string(enum=["pkcs1", "pss", "auto"]), "RSA padding")])},
    "/metrics": {"get": {
        "summary": "Prometheus text exposition (version 0.0.4)",
        "x-required-scope": "read", "security": security("read"),
        "responses": {"200": {"description": "OK",
                              "content": {"text/plain": {"schema": {"type": "string"}}}},
                      "400": err(400)}}},
    "/healthz": {"get": op("Liveness", ref("Health"), [400], scope="none")},
    "/openapi.json": {"get": {
        "summary": "This document", "x-required-scope": "none", "security": [],
        "responses": {"200": {"description": "OK",
                              "content": {"application/json": {"schema": {"type": "object"}}}},
                      "400": err(400)}}},
}

doc = {
    "openapi": "3.0.3",
    "info": {"title": "jcapd packet capture API", "version": "0.1.0",
             "description": "Control and read a libpacket_capture session. Unknown paths "
                            "answer 404, a wrong method 405 (with Allow). Every error body "
                            "is {\"error\": ..., \"field\": ...}. " + SCOPE_DESC},
    "servers": [{"url": "http://127.0.0.1:8000"}],
    "components": {"securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
                   "schemas": schemas},
    "paths": paths,
}

text = json.dumps(doc, indent=1, sort_keys=False)
lines = ['/* SPDX-License-Identifier: BSD-3-Clause */',
         '/*',
         ' * jcapd\'s OpenAPI 3.0 document, served at /openapi.json.',
         ' * Generated by apps/jcapd/openapi.py: edit that file and run it, not this one.',
         ' */',
         '#include "jcapd.h"',
         '',
         'const char jcapd_openapi_json[] =']
for ln in text.split("\n"):
    # escape per character so that a long line splits between escapes, not inside one
    toks = [{"\\": "\\\\", '"': '\\"'}.get(ch, ch) for ch in ln] + ["\\n"]
    chunk = ""
    for t in toks:
        if len(chunk) + len(t) > 84:
            lines.append('\t"' + chunk + '"')
            chunk = ""
        chunk += t
    lines.append('\t"' + chunk + '"')
lines[-1] += ";"
out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openapi.c")
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
