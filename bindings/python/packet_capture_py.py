# SPDX-License-Identifier: BSD-3-Clause
"""packet_capture_py: Python binding of libpacket_capture (ctypes, standard library only).

    from packet_capture_py import PacketCaptureEngine
    with PacketCaptureEngine(pcap_file="trace.pcap") as eng:
        eng.enable_flow_metering(idle_timeout_sec=30)
        eng.start()              # returns at once; capture runs in the background
        eng.wait()               # until the file is fully read
        for f in eng.get_flows(limit=0, include_finished=True):
            print(f.src_ip, f.dst_ip, f.packets + f.rev_packets)

The library is found next to this module, in the build tree ($PC_BUILD_DIR or
../../build) or wherever PACKET_CAPTURE_LIB points. Library errors raise
PacketCaptureError carrying the code and the library's messages; bad Python
arguments raise ValueError/TypeError before the library is called.
"""
import codecs
import contextlib
import ctypes
import ctypes.util
import dataclasses
import errno as _errno
import ipaddress
import logging
import os
import struct
import threading
import time
from typing import Callable, Dict, Iterator, List, Optional

__all__ = [
    "PacketCaptureEngine", "PacketCaptureError", "PacketInfo", "FlowStats", "CaptureMetrics",
    "BackendInfo", "FirmwareVerification", "get_available_backends", "list_backends",
    "verify_firmware", "decrypt_file", "read_pcap", "library_version", "load_library",
]

# ---------------------------------------------------------------- the library

_lib = None
_lib_lock = threading.Lock()


def _candidates():
    env = os.environ.get("PACKET_CAPTURE_LIB")
    if env:
        yield env
        return
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (here,
              os.environ.get("PC_BUILD_DIR"),
              os.path.normpath(os.path.join(here, "..", "..", "build"))):
        if d:
            for name in ("libpacket_capture.so", "libpacket_capture.so.0"):
                yield os.path.join(d, name)
    found = ctypes.util.find_library("packet_capture")
    if found:
        yield found


class _Struct(ctypes.Structure):
    def __init__(self, **kw):
        super().__init__(**kw)
        if "sz" in dict(self._fields_):
            self.sz = ctypes.sizeof(self)


u8, u16, u32, u64 = ctypes.c_uint8, ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64
LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_char_p)


class CaptureConfig(_Struct):
    _fields_ = [("sz", ctypes.c_size_t), ("interface", ctypes.c_char_p),
                ("pcap_file", ctypes.c_char_p), ("backend", ctypes.c_char_p),
                ("filter", ctypes.c_char_p), ("snaplen", u32), ("buffer_size_mb", u32),
                ("workers", u32), ("promiscuous", ctypes.c_bool), ("tstamp", u8),
                ("max_packets", u64), ("duration_sec", u32), ("log_fn", LOG_FN),
                ("log_ctx", ctypes.c_void_p), ("log_level", ctypes.c_int),
                ("export_queue", u32), ("decrypt_key_file", ctypes.c_char_p),
                ("user", ctypes.c_char_p), ("decap_off", u32),
                ("tunnel_ports", ctypes.c_char_p), ("dpdk_eal", ctypes.c_char_p),
                ("sample_rate", u32), ("sample_random", ctypes.c_bool),
                ("geoip_city", ctypes.c_char_p), ("geoip_asn", ctypes.c_char_p),
                ("pcap_files", ctypes.POINTER(ctypes.c_char_p)), ("npcap_files", u32),
                ("ebpf_hook", ctypes.c_char_p), ("ebpf_map_flows", u32),
                ("ebpf_drop", ctypes.c_bool)]


class CaptureFlowConfig(_Struct):
    _fields_ = [("sz", ctypes.c_size_t), ("table_size", u32), ("idle_timeout_sec", u32),
                ("active_timeout_sec", u32), ("uniflow", ctypes.c_bool),
                ("ended_ring_size", u32), ("idle_timeout_ms", u32),
                ("community_id_seed", u16), ("inspect_off", u32), ("inspect_flows", u32)]


class CaptureFlow(_Struct):
    _fields_ = [("src_ip", u8 * 16), ("dst_ip", u8 * 16), ("src_port", u16),
                ("dst_port", u16), ("vlan", u16), ("ip_version", u8), ("proto", u8),
                ("tcp_flags", u8), ("rev_tcp_flags", u8), ("icmp_type", u8),
                ("icmp_code", u8), ("end_reason", u8), ("pad0", u8), ("worker", u16),
                ("packets", u64), ("bytes", u64), ("rev_packets", u64), ("rev_bytes", u64),
                ("first_ns", u64), ("last_ns", u64), ("rev_first_ns", u64),
                ("rev_last_ns", u64), ("fwd_first_ns", u64), ("fwd_last_ns", u64),
                ("src_mac", u8 * 6), ("dst_mac", u8 * 6), ("vlan_inner", u16),
                ("tunnel_type", u8), ("outer_ip_version", u8), ("tunnel_id", u32),
                ("rev_tunnel_id", u32), ("outer_src_ip", u8 * 16), ("outer_dst_ip", u8 * 16),
                ("mpls_labels", u32 * 3), ("interface", u32), ("tos", u8), ("rev_tos", u8),
                ("min_ttl", u8), ("max_ttl", u8), ("rev_min_ttl", u8), ("rev_max_ttl", u8),
                ("community_id_seed", u16),
                # transport health and application fields (l7_flags says which are known)
                ("l7_flags", u32), ("payload_bytes", u64), ("rev_payload_bytes", u64),
                ("retrans_bytes", u64), ("rev_retrans_bytes", u64), ("retrans_packets", u32),
                ("rev_retrans_packets", u32), ("ooo_packets", u32), ("rev_ooo_packets", u32),
                ("zero_win", u32), ("rev_zero_win", u32), ("rtt_us", u32), ("rtt_syn_us", u32),
                ("conn_state", u8), ("dpi_confidence", u8), ("tls_version", u16),
                ("dns_qtype", u16), ("dns_rcode", u8), ("pad1", u8), ("dns_answers", u16),
                ("http_status", u16), ("app_id", u16), ("app_master_id", u16),
                ("src_asn", u32), ("dst_asn", u32), ("history", ctypes.c_char * 20),
                ("app", ctypes.c_char * 48), ("app_category", ctypes.c_char * 32),
                ("tls_sni", ctypes.c_char * 128), ("tls_alpn", ctypes.c_char * 32),
                ("ja4", ctypes.c_char * 40), ("ja3", ctypes.c_char * 36),
                ("dns_qname", ctypes.c_char * 128), ("http_method", ctypes.c_char * 12),
                ("http_host", ctypes.c_char * 128), ("http_url", ctypes.c_char * 128),
                ("http_user_agent", ctypes.c_char * 128), ("src_country", ctypes.c_char * 4),
                ("dst_country", ctypes.c_char * 4), ("src_as_org", ctypes.c_char * 48),
                ("dst_as_org", ctypes.c_char * 48)]


class CaptureFlowKey(_Struct):
    _fields_ = [("ip_version", u8), ("proto", u8), ("vlan", u16), ("src_ip", u8 * 16),
                ("dst_ip", u8 * 16), ("src_port", u16), ("dst_port", u16),
                ("tunnel_type", u8), ("pad", u8 * 3), ("tunnel_id", u32), ("interface", u32)]


SKIP_MAX = 16
_STATS_U64 = ("packets_read", "bytes_read", "packets_in_flows", "bytes_in_flows")
_STATS_U64_2 = ("flows_created", "flows_exported", "flows_active", "flows_idle",
                "flows_active_timeout", "flows_end", "flows_evicted", "flows_shutdown",
                "flows_dropped", "export_queue_drops", "packets_in_dropped_records",
                "fragments_tracked", "fragments_matched", "kernel_packets", "kernel_drops",
                "kernel_freeze_q", "kernel_ifdrops", "xdp_rx_ring_full", "xdp_fill_ring_empty",
                "writer_packets", "writer_bytes", "writer_queue_drops", "writer_files",
                "writer_errors", "export_records", "export_messages", "export_errors",
                "export_not_exportable", "export_tcp_queue_drops", "ended_ring_records",
                "first_ns", "last_ns")
# Kafka and ClickHouse exports (after workers/pad0)
_STATS_U64_3 = ("export_delivered", "export_failed", "export_in_flight", "export_retries",
                "export_buffer_drops", "dpdk_ipackets", "dpdk_imissed", "dpdk_rx_nombuf",
                "dpdk_ierrors", "tunnel_fragments", "inspect_flows", "inspect_pool_full",
                "dpi_flows", "dpi_pool_full", "dpi_identified", "tcp_reassembly_gaps",
                "geoip_lookups", "inspect_reclaimed",
                # the eBPF backend (issue 17)
                "ebpf_seen", "ebpf_metered", "ebpf_up_non_ip", "ebpf_up_vlan",
                "ebpf_up_fragment", "ebpf_up_tunnel", "ebpf_up_ext_header", "ebpf_up_malformed",
                "ebpf_up_map_full", "ebpf_up_filter", "ebpf_ring_full", "ebpf_errors",
                "ebpf_harvests", "ebpf_harvest_ns", "ebpf_harvested_flows")


class CaptureStats(_Struct):
    _fields_ = ([("sz", ctypes.c_size_t)] + [(n, u64) for n in _STATS_U64] +
                [("skipped", u64 * SKIP_MAX)] + [(n, u64) for n in _STATS_U64_2] +
                [("workers", u32), ("pad0", u32)] + [(n, u64) for n in _STATS_U64_3])


class CaptureStatus(_Struct):
    _fields_ = [("sz", ctypes.c_size_t), ("state", ctypes.c_int),
                ("backend", ctypes.c_char * 16), ("backend_reason", ctypes.c_char * 512),
                ("interface", ctypes.c_char * 64), ("pcap_file", ctypes.c_char * 256),
                ("start_ns", u64), ("stop_ns", u64), ("workers", u32),
                ("tstamp_source", ctypes.c_char * 32), ("tstamp_detail", ctypes.c_char * 128),
                ("xdp_mode", ctypes.c_char * 32), ("input_bytes", u64), ("input_done", u64)]


class CaptureBackendInfo(_Struct):
    _fields_ = [("name", ctypes.c_char * 16), ("available", ctypes.c_bool),
                ("preference", ctypes.c_int), ("reason", ctypes.c_char * 256)]


class CaptureNetflowConfig(_Struct):
    _fields_ = [("sz", ctypes.c_size_t), ("version", u16), ("transport", u8),
                ("uniflow", ctypes.c_bool), ("collector", ctypes.c_char_p), ("port", u16),
                ("path", ctypes.c_char_p), ("template_refresh_sec", u32),
                ("observation_domain", u32), ("mtu", u32), ("nanoseconds", ctypes.c_bool),
                ("tcp_queue_records", u32), ("fields", u32), ("ipfix_pen", u32),
                ("rate_records", u64), ("rate_bits", u64), ("sample_scale", ctypes.c_bool)]


class CaptureExportOpts(_Struct):
    _fields_ = [("sz", ctypes.c_size_t), ("observation_domain", u32),
                ("template_refresh_sec", u32), ("mtu", u32), ("store_max_rows", u64),
                ("store_max_age_sec", u32), ("uniflow", ctypes.c_bool),
                ("props", ctypes.c_char_p), ("fields", u32), ("ipfix_pen", u32),
                ("rate_records", u64), ("rate_bits", u64), ("sample_scale", ctypes.c_bool)]


class CapturePcapOutConfig(_Struct):
    _fields_ = [("sz", ctypes.c_size_t), ("dir", ctypes.c_char_p), ("format", u8),
                ("rotate_bytes", u64), ("rotate_seconds", u32), ("max_files", u32),
                ("snaplen", u32), ("filter", ctypes.c_char_p), ("queue_packets", u32)]


class CaptureEncryptionConfig(_Struct):
    _fields_ = [("sz", ctypes.c_size_t), ("key_file", ctypes.c_char_p), ("cipher", u8)]


class CaptureVerifyOpts(_Struct):
    _fields_ = [("sz", ctypes.c_size_t), ("digest", ctypes.c_char_p), ("padding", u8)]


class CaptureQuery(_Struct):
    _fields_ = [("sz", ctypes.c_size_t), ("since_ns", u64), ("until_ns", u64),
                ("ip", ctypes.c_char_p), ("port", ctypes.c_int32), ("proto", ctypes.c_int32),
                ("limit", u64), ("community_id", ctypes.c_char_p), ("mac", ctypes.c_char_p),
                ("tunnel_id", u32), ("has_tunnel_id", ctypes.c_bool),
                ("app", ctypes.c_char_p), ("sni", ctypes.c_char_p),
                ("dns_name", ctypes.c_char_p), ("country", ctypes.c_char_p),
                ("asn", u32), ("has_asn", ctypes.c_bool)]


# C struct name -> ctypes class, for the layout test
STRUCTS = {
    "capture_config": CaptureConfig, "capture_flow_config": CaptureFlowConfig,
    "capture_flow": CaptureFlow, "capture_flow_key": CaptureFlowKey,
    "capture_stats": CaptureStats, "capture_status": CaptureStatus,
    "capture_backend_info": CaptureBackendInfo, "capture_netflow_config": CaptureNetflowConfig,
    "capture_export_opts": CaptureExportOpts, "capture_pcap_out_config": CapturePcapOutConfig,
    "capture_encryption_config": CaptureEncryptionConfig,
    "capture_verify_opts": CaptureVerifyOpts, "capture_query": CaptureQuery,
}

FLOW_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.POINTER(CaptureFlow), ctypes.c_size_t)

_P = ctypes.c_void_p
_S = ctypes.c_char_p
_I = ctypes.c_int
_SIGS = {
    "capture_strerror": (_S, [_I]),
    "capture_init": (_I, [ctypes.POINTER(_P), ctypes.POINTER(CaptureConfig)]),
    "capture_destroy": (None, [_P]),
    "capture_last_error": (_S, [_P]),
    "capture_end_reason_name": (_S, [_I]),
    "capture_flow_enable": (_I, [_P, ctypes.POINTER(CaptureFlowConfig)]),
    "capture_set_flow_callback": (_I, [_P, FLOW_FN, _P]),
    "capture_flow_community_id": (_I, [ctypes.POINTER(CaptureFlow), u16, ctypes.c_char_p]),
    "capture_tunnel_name": (_S, [_I]),
    "capture_conn_state_name": (_S, [_I]),
    "capture_dpi_confidence_name": (_S, [_I]),
    "capture_decap_parse": (_I, [_S, ctypes.POINTER(u32)]),
    "capture_export_fields_parse": (_I, [_S, ctypes.POINTER(u32)]),
    "capture_inspect_parse": (_I, [_S, ctypes.POINTER(u32)]),
    "capture_dpi_available": (ctypes.c_bool, [ctypes.c_char_p, ctypes.c_size_t]),
    "capture_flow_lookup": (_I, [_P, ctypes.POINTER(CaptureFlowKey),
                                 ctypes.POINTER(CaptureFlow)]),
    "capture_flow_get_all": (ctypes.c_int64, [_P, ctypes.POINTER(CaptureFlow), ctypes.c_size_t,
                                              ctypes.c_uint, ctypes.POINTER(u64)]),
    "capture_start": (_I, [_P]),
    "capture_poll": (_I, [_P, _I]),
    "capture_stop": (_I, [_P, ctypes.c_bool]),
    "capture_request_stop": (None, [_P]),
    "capture_skip_name": (_S, [_I]),
    "capture_get_stats": (_I, [_P, ctypes.POINTER(CaptureStats)]),
    "capture_get_worker_stats": (_I, [_P, ctypes.c_uint, ctypes.POINTER(CaptureStats)]),
    "capture_stats_json": (_I, [_P, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_bool]),
    "capture_get_status": (_I, [_P, ctypes.POINTER(CaptureStatus)]),
    "capture_list_backends": (_I, [ctypes.POINTER(CaptureBackendInfo), ctypes.c_size_t]),
    "capture_netflow_enable": (_I, [_P, ctypes.POINTER(CaptureNetflowConfig)]),
    "capture_export_add": (_I, [_P, _S, ctypes.POINTER(CaptureExportOpts)]),
    "capture_pcap_out_enable": (_I, [_P, ctypes.POINTER(CapturePcapOutConfig)]),
    "capture_set_encryption": (_I, [_P, ctypes.POINTER(CaptureEncryptionConfig)]),
    "capture_decrypt_file": (_I, [_S, _S, _S, ctypes.c_char_p, ctypes.c_size_t]),
    "capture_verify_result_name": (_S, [_I]),
    "capture_verify_firmware": (_I, [_S, _S, _S, ctypes.POINTER(CaptureVerifyOpts),
                                     ctypes.c_char_p, ctypes.c_size_t]),
    "capture_add_artifact": (_I, [_P, _S, _S, _S, ctypes.POINTER(CaptureVerifyOpts)]),
    "capture_flow_to_json": (_I, [ctypes.POINTER(CaptureFlow), ctypes.c_char_p,
                                  ctypes.c_size_t]),
    "capture_version": (_S, []),
}


def load_library(path=None):
    """Load (once) and return the ctypes handle of libpacket_capture."""
    global _lib
    with _lib_lock:
        if _lib is not None and path is None:
            return _lib
        tried = []
        for cand in ([path] if path else _candidates()):
            if not os.path.exists(cand) and os.sep in cand:
                tried.append(cand)
                continue
            try:
                lib = ctypes.CDLL(cand)
            except OSError as e:
                tried.append("%s (%s)" % (cand, e))
                continue
            for name, (res, args) in _SIGS.items():
                fn = getattr(lib, name)
                fn.restype = res
                fn.argtypes = args
            _lib = lib
            return lib
        raise OSError("libpacket_capture not found; tried: %s (set PACKET_CAPTURE_LIB)"
                      % ", ".join(tried))


def library_version() -> str:
    return load_library().capture_version().decode()


# ---------------------------------------------------------------- errors

class PacketCaptureError(Exception):
    """A library call failed. code: the positive error number (an errno value or a
    CAPTURE_E_* code >= 1000); name: its symbolic name; message: capture_strerror();
    detail: capture_last_error() (the specific reason), may be empty."""

    NAMES = {1000: "CAPTURE_E_STATE", 1001: "CAPTURE_E_CONFIG", 1002: "CAPTURE_E_FILTER",
             1003: "CAPTURE_E_FORMAT", 1004: "CAPTURE_E_TRUNCATED", 1005: "CAPTURE_E_BACKEND",
             1006: "CAPTURE_E_LINKTYPE", 1007: "CAPTURE_E_VERIFY", 1008: "CAPTURE_E_KEY",
             1009: "CAPTURE_E_WRONG_KEY", 1010: "CAPTURE_E_AUTH", 1011: "CAPTURE_E_TARGET",
             1012: "CAPTURE_E_NOT_FOUND", 1013: "CAPTURE_E_PRIV", 1014: "CAPTURE_E_DB",
             1015: "CAPTURE_E_CRYPTO", 1016: "CAPTURE_E_EOF"}

    def __init__(self, code, message, detail="", call=""):
        self.code = abs(int(code))
        self.name = self.NAMES.get(self.code) or _errno.errorcode.get(self.code,
                                                                      "E%d" % self.code)
        self.message = message
        self.detail = detail or ""
        self.call = call
        text = "%s: %s" % (call, message) if call else message
        if self.detail and self.detail != message:
            text += ": " + self.detail
        super().__init__(text)


def _check(rc, call, handle=None, detail=None):
    if rc >= 0:
        return rc
    lib = load_library()
    msg = lib.capture_strerror(int(rc)).decode(errors="replace")
    if detail is None:
        d = lib.capture_last_error(handle)
        detail = d.decode(errors="replace") if d else ""
    raise PacketCaptureError(-rc, msg, detail, call)


def _b(s):
    if s is None:
        return None
    if isinstance(s, bytes):
        return s
    if isinstance(s, os.PathLike):
        s = os.fspath(s)
    if not isinstance(s, str):
        raise TypeError("expected str, got %r" % (s,))
    return s.encode()


def _u32(name, v, lo=0, hi=0xFFFFFFFF):
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        raise TypeError("%s must be an int" % name)
    if not lo <= v <= hi:
        raise ValueError("%s must be in %d..%d, got %d" % (name, lo, hi, v))
    return v


# ---------------------------------------------------------------- value types

STATE_NAMES = {0: "idle", 1: "running", 2: "done", 3: "stopped", 4: "failed"}
SKIP_NAMES = ("non_ip", "truncated", "malformed", "unsupported_link", "fragment_unmatched",
              "filtered", "flow_disabled", "sampled_out", "tunnel_too_deep")
EXPIRE_FIELDS = (("idle", "flows_idle"), ("active", "flows_active_timeout"),
                 ("end", "flows_end"), ("evicted", "flows_evicted"),
                 ("shutdown", "flows_shutdown"))
# enum capture_tunnel kinds whose header carries an id (VNI, key, session, call id, TEID)
_TUNNELS_WITH_ID = (1, 2, 3, 4, 5, 6, 7)
RECORD_FIELDS = ("src_ip", "dst_ip", "src_port", "dst_port", "proto", "ip_version", "vlan",
                 "packets", "bytes", "rev_packets", "rev_bytes", "tcp_flags", "rev_tcp_flags",
                 "first_ns", "last_ns", "icmp_type", "icmp_code", "end_reason", "worker")
# Transport health and application fields after payload_bytes/rev_payload_bytes, in the
# JSON record's order: (capture_l7_flags bit that makes them known, names). "s": a string
# (absent when empty), "n": a name from the library, else a number.
_L7_FIELDS = (
    (1 << 8, (("conn_state", "n"), ("history", "s"), ("retrans_packets", ""),
              ("retrans_bytes", ""), ("rev_retrans_packets", ""), ("rev_retrans_bytes", ""),
              ("ooo_packets", ""), ("rev_ooo_packets", ""), ("zero_win", ""),
              ("rev_zero_win", ""))),
    (1 << 9, (("rtt_us", ""), ("rtt_syn_us", ""))),
    (1 << 0, (("app", "s"), ("app_category", "s"), ("app_id", ""), ("app_master_id", ""),
              ("dpi_confidence", "n"))),
    (1 << 1, (("tls_sni", "s"), ("tls_alpn", "s"))),
    (1 << 14, (("tls_version", ""),)),
    (1 << 1, (("ja4", "s"), ("ja3", "s"))),
    (1 << 4, (("dns_qname", "s"), ("dns_qtype", ""))),
    (1 << 5, (("dns_rcode", ""), ("dns_answers", ""))),
    (1 << 6, (("http_method", "s"), ("http_host", "s"), ("http_url", "s"),
              ("http_user_agent", "s"))),
    (1 << 7, (("http_status", ""),)),
    (1 << 10, (("src_country", "s"),)),
    (1 << 11, (("dst_country", "s"),)),
    (1 << 12, (("src_asn", ""), ("src_as_org", "s"))),
    (1 << 13, (("dst_asn", ""), ("dst_as_org", "s"))),
)
L7_FIELDS = tuple(name for _, group in _L7_FIELDS for name, _ in group)


def _wire_byte(e):
    """Decode error handler: a byte that is not valid UTF-8 is the character
    U+00XX of its value, as the JSON record writes it (\\u00XX)."""
    return "".join(chr(b) for b in e.object[e.start:e.end]), e.end


codecs.register_error("packet_capture_wire", _wire_byte)


@dataclasses.dataclass
class PacketInfo:
    """One packet of a capture file (see read_pcap)."""
    timestamp_ns: int
    caplen: int
    length: int		# on the wire
    data: bytes
    linktype: int = 1


@dataclasses.dataclass
class FlowStats:
    """A flow record; the first 19 fields carry the JSON flow record's names."""
    src_ip: str
    dst_ip: str
    src_port: int
    dst_port: int
    proto: int
    ip_version: int
    vlan: int
    packets: int
    bytes: int
    rev_packets: int
    rev_bytes: int
    tcp_flags: int
    rev_tcp_flags: int
    first_ns: int
    last_ns: int
    icmp_type: int
    icmp_code: int
    end_reason: str
    worker: int
    rev_first_ns: int = 0
    rev_last_ns: int = 0
    fwd_first_ns: int = 0
    fwd_last_ns: int = 0
    # link and path identity (docs/EXPORT.md); None / [] where it does not apply
    community_id: str = ""
    interface: int = 0
    src_mac: Optional[str] = None
    dst_mac: Optional[str] = None
    vlan_inner: int = 0
    mpls_labels: List[int] = dataclasses.field(default_factory=list)
    mpls_exp: List[int] = dataclasses.field(default_factory=list)
    tunnel_type: Optional[str] = None
    tunnel_id: Optional[int] = None
    rev_tunnel_id: Optional[int] = None
    outer_src_ip: Optional[str] = None
    outer_dst_ip: Optional[str] = None
    tos: int = 0
    rev_tos: int = 0
    min_ttl: int = 0
    max_ttl: int = 0
    rev_min_ttl: int = 0
    rev_max_ttl: int = 0
    # transport health and application fields (docs/EXPORT.md): None where not known
    payload_bytes: int = 0
    rev_payload_bytes: int = 0
    conn_state: Optional[str] = None
    history: Optional[str] = None
    retrans_packets: Optional[int] = None
    retrans_bytes: Optional[int] = None
    rev_retrans_packets: Optional[int] = None
    rev_retrans_bytes: Optional[int] = None
    ooo_packets: Optional[int] = None
    rev_ooo_packets: Optional[int] = None
    zero_win: Optional[int] = None
    rev_zero_win: Optional[int] = None
    rtt_us: Optional[int] = None
    rtt_syn_us: Optional[int] = None
    app: Optional[str] = None
    app_category: Optional[str] = None
    app_id: Optional[int] = None
    app_master_id: Optional[int] = None
    dpi_confidence: Optional[str] = None
    tls_sni: Optional[str] = None
    tls_alpn: Optional[str] = None
    tls_version: Optional[int] = None
    ja4: Optional[str] = None
    ja3: Optional[str] = None
    dns_qname: Optional[str] = None
    dns_qtype: Optional[int] = None
    dns_rcode: Optional[int] = None
    dns_answers: Optional[int] = None
    http_method: Optional[str] = None
    http_host: Optional[str] = None
    http_url: Optional[str] = None
    http_user_agent: Optional[str] = None
    http_status: Optional[int] = None
    src_country: Optional[str] = None
    dst_country: Optional[str] = None
    src_asn: Optional[int] = None
    src_as_org: Optional[str] = None
    dst_asn: Optional[int] = None
    dst_as_org: Optional[str] = None

    @property
    def duration_ns(self) -> int:
        return max(0, self.last_ns - self.first_ns)

    @property
    def dscp(self) -> int:
        return self.tos >> 2

    @property
    def rev_dscp(self) -> int:
        return self.rev_tos >> 2

    def to_dict(self) -> Dict:
        """The flow record, as `jcap -F json` prints it (fields that do not apply
        are absent)."""
        d = {k: getattr(self, k) for k in RECORD_FIELDS}
        if self.community_id:
            d["community_id"] = self.community_id
        d["interface"] = self.interface
        if self.src_mac is not None:
            d["src_mac"], d["dst_mac"] = self.src_mac, self.dst_mac
        if self.vlan_inner:
            d["vlan_inner"] = self.vlan_inner
        if self.mpls_labels:
            d["mpls_labels"], d["mpls_exp"] = list(self.mpls_labels), list(self.mpls_exp)
        if self.tunnel_type is not None:
            d["tunnel_type"] = self.tunnel_type
            if self.tunnel_id is not None:
                d["tunnel_id"] = self.tunnel_id
                if self.rev_packets and self.rev_tunnel_id != self.tunnel_id:
                    d["rev_tunnel_id"] = self.rev_tunnel_id
            if self.outer_src_ip is not None:
                d["outer_src_ip"], d["outer_dst_ip"] = self.outer_src_ip, self.outer_dst_ip
        if self.packets:
            d.update(tos=self.tos, dscp=self.dscp, min_ttl=self.min_ttl, max_ttl=self.max_ttl)
        if self.rev_packets:
            d.update(rev_tos=self.rev_tos, rev_dscp=self.rev_dscp,
                     rev_min_ttl=self.rev_min_ttl, rev_max_ttl=self.rev_max_ttl)
        d.update(payload_bytes=self.payload_bytes, rev_payload_bytes=self.rev_payload_bytes)
        for k in L7_FIELDS:
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        return d

    @classmethod
    def _from_c(cls, f, reason_names):
        n = 4 if f.ip_version == 4 else 16
        src = bytes(f.src_ip[:n])
        dst = bytes(f.dst_ip[:n])
        s = cls(str(ipaddress.ip_address(src)), str(ipaddress.ip_address(dst)),
                f.src_port, f.dst_port, f.proto, f.ip_version, f.vlan, f.packets, f.bytes,
                f.rev_packets, f.rev_bytes, f.tcp_flags, f.rev_tcp_flags, f.first_ns,
                f.last_ns, f.icmp_type, f.icmp_code, reason_names(f.end_reason), f.worker,
                f.rev_first_ns, f.rev_last_ns, f.fwd_first_ns, f.fwd_last_ns)
        s._path_from_c(f)
        s._l7_from_c(f)
        return s

    def _l7_from_c(self, f):
        lib = load_library()
        names = {"conn_state": lib.capture_conn_state_name,
                 "dpi_confidence": lib.capture_dpi_confidence_name}
        self.payload_bytes, self.rev_payload_bytes = f.payload_bytes, f.rev_payload_bytes
        for flag, group in _L7_FIELDS:
            if not f.l7_flags & flag:
                continue
            for k, kind in group:
                v = getattr(f, k)
                if kind == "s":
                    v = v.decode("utf-8", "packet_capture_wire") if v else None
                elif kind == "n":
                    v = names[k](v)
                    v = v.decode() if v else None
                setattr(self, k, v)

    def _path_from_c(self, f):
        lib = load_library()
        cid = ctypes.create_string_buffer(32)
        if lib.capture_flow_community_id(ctypes.byref(f), f.community_id_seed, cid) == 0:
            self.community_id = cid.value.decode()
        self.interface = f.interface
        if any(f.src_mac) or any(f.dst_mac):
            self.src_mac = ":".join("%02x" % b for b in f.src_mac)
            self.dst_mac = ":".join("%02x" % b for b in f.dst_mac)
        self.vlan_inner = f.vlan_inner
        for lse in f.mpls_labels:
            if not lse:
                break
            self.mpls_labels.append(lse >> 4)
            self.mpls_exp.append((lse >> 1) & 7)
        name = lib.capture_tunnel_name(f.tunnel_type) if f.tunnel_type else None
        if name:
            self.tunnel_type = name.decode()
            if f.tunnel_type in _TUNNELS_WITH_ID:
                self.tunnel_id, self.rev_tunnel_id = f.tunnel_id, f.rev_tunnel_id
            if f.outer_ip_version in (4, 6):
                n = 4 if f.outer_ip_version == 4 else 16
                self.outer_src_ip = str(ipaddress.ip_address(bytes(f.outer_src_ip[:n])))
                self.outer_dst_ip = str(ipaddress.ip_address(bytes(f.outer_dst_ip[:n])))
        self.tos, self.rev_tos = f.tos, f.rev_tos
        self.min_ttl, self.max_ttl = f.min_ttl, f.max_ttl
        self.rev_min_ttl, self.rev_max_ttl = f.rev_min_ttl, f.rev_max_ttl


@dataclasses.dataclass
class CaptureMetrics:
    """Counters of a session (totals, or one worker's). pps/bps: rates since the
    previous get_metrics() call on the same engine (0.0 on the first)."""
    packets_read: int = 0
    bytes_read: int = 0
    packets_in_flows: int = 0
    bytes_in_flows: int = 0
    skipped: Dict[str, int] = dataclasses.field(default_factory=dict)
    flows_created: int = 0
    flows_exported: int = 0
    flows_active: int = 0
    expired: Dict[str, int] = dataclasses.field(default_factory=dict)
    flows_dropped: int = 0
    export_queue_drops: int = 0
    packets_in_dropped_records: int = 0
    fragments_tracked: int = 0
    fragments_matched: int = 0
    kernel_packets: int = 0
    kernel_drops: int = 0
    kernel_freeze_q: int = 0
    kernel_ifdrops: int = 0
    xdp_rx_ring_full: int = 0
    xdp_fill_ring_empty: int = 0
    writer_packets: int = 0
    writer_bytes: int = 0
    writer_queue_drops: int = 0
    writer_files: int = 0
    writer_errors: int = 0
    export_records: int = 0
    export_messages: int = 0
    export_errors: int = 0
    export_not_exportable: int = 0
    export_tcp_queue_drops: int = 0
    export_delivered: int = 0
    export_failed: int = 0
    export_in_flight: int = 0
    export_retries: int = 0
    export_buffer_drops: int = 0
    dpdk_ipackets: int = 0
    dpdk_imissed: int = 0
    dpdk_rx_nombuf: int = 0
    dpdk_ierrors: int = 0
    tunnel_fragments: int = 0
    inspect_flows: int = 0
    inspect_pool_full: int = 0
    dpi_flows: int = 0
    dpi_pool_full: int = 0
    dpi_identified: int = 0
    tcp_reassembly_gaps: int = 0
    geoip_lookups: int = 0
    inspect_reclaimed: int = 0
    # -b ebpf: ebpf_seen = ebpf_metered + ebpf_up_* + ebpf_ring_full + ebpf_errors
    ebpf_seen: int = 0
    ebpf_metered: int = 0
    ebpf_up_non_ip: int = 0
    ebpf_up_vlan: int = 0
    ebpf_up_fragment: int = 0
    ebpf_up_tunnel: int = 0
    ebpf_up_ext_header: int = 0
    ebpf_up_malformed: int = 0
    ebpf_up_map_full: int = 0
    ebpf_up_filter: int = 0
    ebpf_ring_full: int = 0
    ebpf_errors: int = 0
    ebpf_harvests: int = 0
    ebpf_harvest_ns: int = 0
    ebpf_harvested_flows: int = 0
    ended_ring_records: int = 0
    first_ns: int = 0
    last_ns: int = 0
    workers: int = 0
    pps: float = 0.0
    bps: float = 0.0
    per_worker: List["CaptureMetrics"] = dataclasses.field(default_factory=list)

    @property
    def packets_skipped(self) -> int:
        return sum(self.skipped.values())

    @classmethod
    def _from_c(cls, st):
        m = cls()
        for name in _STATS_U64 + _STATS_U64_2 + _STATS_U64_3:
            if hasattr(m, name):
                setattr(m, name, getattr(st, name))
        m.skipped = {n: st.skipped[i] for i, n in enumerate(SKIP_NAMES)}
        m.expired = {n: getattr(st, f) for n, f in EXPIRE_FIELDS}
        m.workers = st.workers
        return m


@dataclasses.dataclass
class BackendInfo:
    name: str
    available: bool
    preference: int
    reason: str


@dataclasses.dataclass
class FirmwareVerification:
    valid: bool
    result: str		# "valid", "invalid_signature", "wrong_key_type", "unreadable", "weak_key"
    code: int
    detail: str


# ---------------------------------------------------------------- module functions

def list_backends() -> List[BackendInfo]:
    """Every backend the library knows of, available or not, with the reason."""
    lib = load_library()
    arr = (CaptureBackendInfo * 32)()
    n = _check(lib.capture_list_backends(arr, 32), "capture_list_backends")
    return [BackendInfo(b.name.decode(), bool(b.available), b.preference,
                        b.reason.decode(errors="replace")) for b in arr[:min(n, 32)]]


def get_available_backends() -> List[str]:
    """Names of the backends usable here, most preferred first."""
    return [b.name for b in sorted(list_backends(), key=lambda b: -b.preference)
            if b.available]


_DIGESTS = ("sha256", "sha384", "sha512")
_PADDINGS = {"pkcs1": 0, "pss": 1, "auto": 2}


def verify_firmware(image, signature, public_key, digest="sha256",
                    padding="pkcs1") -> FirmwareVerification:
    """Check a detached signature over @image. A verdict (valid or not) is
    returned; arguments the library cannot use raise PacketCaptureError."""
    if digest not in _DIGESTS:
        raise ValueError("digest must be one of %s" % (_DIGESTS,))
    if padding not in _PADDINGS:
        raise ValueError("padding must be one of %s" % (tuple(_PADDINGS),))
    lib = load_library()
    opts = CaptureVerifyOpts(digest=digest.encode(), padding=_PADDINGS[padding])
    detail = ctypes.create_string_buffer(512)
    rc = lib.capture_verify_firmware(_b(image), _b(signature), _b(public_key),
                                     ctypes.byref(opts), detail, 512)
    text = detail.value.decode(errors="replace")
    _check(rc, "capture_verify_firmware", detail=text)
    return FirmwareVerification(rc == 0, lib.capture_verify_result_name(rc).decode(), rc, text)


def decrypt_file(key_file, src, dst) -> None:
    """Decrypt a capture written with encryption on; raises PacketCaptureError
    (CAPTURE_E_WRONG_KEY, CAPTURE_E_AUTH, CAPTURE_E_TRUNCATED, ...)."""
    lib = load_library()
    msg = ctypes.create_string_buffer(512)
    rc = lib.capture_decrypt_file(_b(key_file), _b(src), _b(dst), msg, 512)
    _check(rc, "capture_decrypt_file", detail=msg.value.decode(errors="replace"))


def read_pcap(path) -> Iterator[PacketInfo]:
    """Packets of a classic pcap (either byte order, us or ns) or pcapng file,
    such as those the engine's packet writer stores."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError("%s: too short for a capture file" % path)
    magic = data[:4]
    classic = {b"\xd4\xc3\xb2\xa1": ("<", 1000), b"\xa1\xb2\xc3\xd4": (">", 1000),
               b"\x4d\x3c\xb2\xa1": ("<", 1), b"\xa1\xb2\x3c\x4d": (">", 1)}
    if magic in classic:
        e, mult = classic[magic]
        if len(data) < 24:
            raise ValueError("%s: truncated file header" % path)
        linktype = struct.unpack_from(e + "I", data, 20)[0] & 0x0FFFFFFF
        off = 24
        while off < len(data):
            if off + 16 > len(data):
                raise ValueError("%s: truncated record header at %d" % (path, off))
            sec, frac, incl, orig = struct.unpack_from(e + "IIII", data, off)
            if off + 16 + incl > len(data):
                raise ValueError("%s: truncated packet at %d" % (path, off))
            yield PacketInfo(sec * 1000000000 + frac * mult, incl, orig,
                             data[off + 16:off + 16 + incl], linktype)
            off += 16 + incl
        return
    if magic == b"\x0a\x0d\x0d\x0a":
        yield from _read_pcapng(path, data)
        return
    raise ValueError("%s: not a pcap or pcapng file" % path)


def _read_pcapng(path, data):
    off, e, ifaces = 0, "<", []
    while off + 12 <= len(data):
        if data[off:off + 4] == b"\x0a\x0d\x0d\x0a":
            e = "<" if data[off + 8:off + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            ifaces = []
        btype, blen = struct.unpack_from(e + "II", data, off)
        if blen < 12 or off + blen > len(data):
            raise ValueError("%s: bad block length at %d" % (path, off))
        body = data[off + 8:off + blen - 4]
        if btype == 1:		# interface description: linktype + tsresol option
            lt = struct.unpack_from(e + "H", body, 0)[0]
            res, p = 1000, 8
            while p + 4 <= len(body):
                code, ln = struct.unpack_from(e + "HH", body, p)
                if code == 0:
                    break
                if code == 9 and ln >= 1:
                    v = body[p + 4]
                    res = (10 ** 9 // (10 ** (v & 0x7F))) if not v & 0x80 else None
                p += 4 + ((ln + 3) & ~3)
            ifaces.append((lt, res))
        elif btype == 6:	# enhanced packet
            ifid, hi, lo, cap, orig = struct.unpack_from(e + "IIIII", body, 0)
            lt, res = ifaces[ifid] if ifid < len(ifaces) else (1, 1000)
            ts = (hi << 32) | lo
            yield PacketInfo(ts * res if res else ts, cap, orig, body[20:20 + cap], lt)
        off += blen


# ---------------------------------------------------------------- the engine

_SORTS = {
    "bytes": lambda f: f.bytes + f.rev_bytes,
    "packets": lambda f: f.packets + f.rev_packets,
    "duration": lambda f: f.last_ns - f.first_ns,
    "last_seen": lambda f: f.last_ns,
}
_BACKENDS = ("auto", "dpdk", "pcap", "afpacket", "afxdp", "ebpf", "file")
_TSTAMPS = {"kernel": 0, "hardware": 1, "ptp": 2, "ntp": 3}
_LEVELS = {"error": 0, "warn": 1, "info": 2, "debug": 3}
_CIPHERS = {"aes-256-gcm": 0, "aes-128-gcm": 1, "chacha20-poly1305": 2}
_TRANSPORTS = {"udp": 0, "tcp": 1, "file": 2}
_FLAG_ACTIVE, _FLAG_ENDED = 1, 2
_log = logging.getLogger("packet_capture")


class PacketCaptureEngine:
    """One capture session over a live interface or an offline capture file.

    Settings (flow metering, exporters, packet storage, encryption) are given
    before start(); start() returns at once and the capture runs on the
    library's threads; wait() blocks until an offline file is fully read (or
    a live session ends by duration/count); stop() ends it. Use it as a
    context manager so the session is stopped and every resource released.
    """

    def __init__(self, interface=None, pcap_file=None, backend="auto", workers=1, filter=None,
                 buffer_size_mb=None, snaplen=None, promiscuous=True, tstamp="kernel",
                 max_packets=None, duration_sec=None, decrypt_key_file=None, user=None,
                 dpdk_eal=None, log_level=None, on_flow: Optional[Callable[[List[FlowStats]], None]] = None,
                 decap="all", tunnel_ports=None, geoip_city=None, geoip_asn=None,
                 sample=None, sample_random=False, ebpf_hook=None, ebpf_map_flows=None,
                 ebpf_drop=False, pcap_files=None):
        # several offline inputs merged in time order: pcap_file=[...] or
        # pcap_files=[...] (one alone is pcap_file)
        if isinstance(pcap_file, (list, tuple)):
            if pcap_files is not None:
                raise ValueError("give pcap_file or pcap_files, not both")
            pcap_files, pcap_file = pcap_file, None
        if pcap_files is not None:
            if pcap_file is not None:
                raise ValueError("give pcap_file or pcap_files, not both")
            pcap_files = [_b(f) for f in pcap_files]
            if not pcap_files:
                raise ValueError("pcap_files is empty")
            if len(pcap_files) == 1:
                pcap_file, pcap_files = pcap_files[0], None
        if (interface is None) == (pcap_file is None and pcap_files is None):
            raise ValueError("give exactly one of interface and pcap_file")
        if backend not in _BACKENDS:
            raise ValueError("backend must be one of %s" % (_BACKENDS,))
        if tstamp not in _TSTAMPS:
            raise ValueError("tstamp must be one of %s" % (tuple(_TSTAMPS),))
        if log_level is not None and log_level not in _LEVELS:
            raise ValueError("log_level must be one of %s" % (tuple(_LEVELS),))
        self._lib = load_library()
        self._h = ctypes.c_void_p()
        self._keep = []		# objects the library points into
        self._cb_error = None
        self._last_sample = None
        self._lock = threading.Lock()
        # calls in flight on the handle: close() waits for them before it frees it
        self._use_cv = threading.Condition()
        self._users = 0
        cfg = CaptureConfig(
            interface=_b(interface), pcap_file=_b(pcap_file), backend=_b(backend),
            filter=_b(filter), snaplen=_u32("snaplen", snaplen, 0, 262144),
            buffer_size_mb=_u32("buffer_size_mb", buffer_size_mb, 0, 2048),
            workers=_u32("workers", workers, 1, 1024), promiscuous=bool(promiscuous),
            tstamp=_TSTAMPS[tstamp], max_packets=max_packets or 0,
            duration_sec=_u32("duration_sec", duration_sec),
            decrypt_key_file=_b(decrypt_key_file), user=_b(user), dpdk_eal=_b(dpdk_eal),
            tunnel_ports=_b(tunnel_ports), geoip_city=_b(geoip_city),
            geoip_asn=_b(geoip_asn), ebpf_hook=_b(ebpf_hook),
            ebpf_map_flows=_u32("ebpf_map_flows", ebpf_map_flows, 0, 1 << 24),
            ebpf_drop=bool(ebpf_drop))
        if pcap_files is not None:
            files = (ctypes.c_char_p * len(pcap_files))(*pcap_files)
            self._keep.append(files)  # the library copies them; kept for the session
            cfg.pcap_files = ctypes.cast(files, ctypes.POINTER(ctypes.c_char_p))
            cfg.npcap_files = len(pcap_files)
        # sample: meter 1 in N packets (jcap --sample N), every N-th or, with
        # sample_random, each with probability 1/N; the others count as sampled_out
        cfg.sample_rate = _u32("sample", sample, 1)
        if sample_random and cfg.sample_rate < 2:
            raise ValueError("sample_random needs sample of 2 or more")
        cfg.sample_random = bool(sample_random)
        # decap: "all", "none", tunnel names ("vxlan,gtpu") or a list of them
        names = decap if isinstance(decap, str) else ",".join(decap)
        off = u32(0)
        if self._lib.capture_decap_parse(_b(names), ctypes.byref(off)) < 0:
            raise ValueError("decap must be 'all', 'none' or tunnel names, got %r" % (decap,))
        cfg.decap_off = off.value
        if log_level is not None:
            self._log_fn = LOG_FN(self._on_log)
            cfg.log_fn = self._log_fn
            cfg.log_level = _LEVELS[log_level]
        rc = self._lib.capture_init(ctypes.byref(self._h), ctypes.byref(cfg))
        _check(rc, "capture_init", None)
        if on_flow is not None:
            self._flow_fn = FLOW_FN(self._on_flows)
            self._on_flow = on_flow
            self._call(self._lib.capture_set_flow_callback, "capture_set_flow_callback",
                       self._flow_fn, None)

    # -- plumbing

    @contextlib.contextmanager
    def _using(self):
        """The handle, kept alive until the block ends: close() from another
        thread waits for calls in flight instead of freeing under them."""
        with self._use_cv:
            if not self._h:
                raise PacketCaptureError(_errno.EBADF, "engine is closed", call="engine")
            self._users += 1
            h = self._h
        try:
            yield h
        finally:
            with self._use_cv:
                self._users -= 1
                if not self._users:
                    self._use_cv.notify_all()

    def _call(self, fn, name, *args):
        with self._using() as h:
            return _check(fn(h, *args), name, h)

    @staticmethod
    def _on_log(ctx, level, msg):
        py = {0: logging.ERROR, 1: logging.WARNING, 2: logging.INFO}.get(level, logging.DEBUG)
        _log.log(py, "%s", msg.decode(errors="replace") if msg else "")

    def _reason(self, r):
        s = self._lib.capture_end_reason_name(r)
        return s.decode() if s else str(r)

    def _on_flows(self, ctx, recs, n):
        try:
            self._on_flow([FlowStats._from_c(recs[i], self._reason) for i in range(n)])
        except BaseException as e:	# never unwind into C; re-raised by wait()/stop()
            if self._cb_error is None:
                self._cb_error = e

    def _raise_cb_error(self):
        e, self._cb_error = self._cb_error, None
        if e is not None:
            raise e

    # -- settings

    def enable_flow_metering(self, table_size=None, idle_timeout_sec=None,
                             active_timeout_sec=None, uniflow=False, ended_ring_size=1 << 20,
                             idle_timeout_ms=None, community_id_seed=0, inspect="all",
                             inspect_flows=None, dpi=None):
        """Meter flows; ended_ring_size keeps that many recently ended flows for
        get_flows(include_finished=True); community_id_seed: Community ID v1 seed;
        inspect: "all", "none" or stage names ("dpi,tls,quic,dns,http,tcp" or a
        list); inspect_flows: flows inspected at a time per worker (65536);
        dpi: True/False turns nDPI on/off over @inspect (True without nDPI
        compiled in raises ValueError)."""
        names = inspect if isinstance(inspect, str) else ",".join(inspect)
        off = u32()
        if self._lib.capture_inspect_parse(_b(names), ctypes.byref(off)) < 0:
            raise ValueError("inspect must be 'all', 'none' or names of dpi, tls, quic, dns, "
                             "http, tcp, got %r" % (inspect,))
        if dpi is True:
            if not self._lib.capture_dpi_available(None, 0):
                raise ValueError("dpi=True: this build of the library has no nDPI")
            off.value &= ~1
        elif dpi is False:
            off.value |= 1
        fc = CaptureFlowConfig(
            inspect_off=off.value,
            inspect_flows=_u32("inspect_flows", inspect_flows, 1, 16777216),
            table_size=_u32("table_size", table_size, 0, 16777216),
            idle_timeout_sec=_u32("idle_timeout_sec", idle_timeout_sec),
            active_timeout_sec=_u32("active_timeout_sec", active_timeout_sec),
            uniflow=bool(uniflow), ended_ring_size=_u32("ended_ring_size", ended_ring_size),
            idle_timeout_ms=_u32("idle_timeout_ms", idle_timeout_ms),
            community_id_seed=_u32("community_id_seed", community_id_seed, 0, 65535))
        if table_size is not None and table_size < 4096:
            raise ValueError("table_size must be in 4096..16777216")
        self._call(self._lib.capture_flow_enable, "capture_flow_enable", ctypes.byref(fc))

    def _target_opts(self, fields, export_rate):
        """(field bits, rate_records) from add_export's @fields and @export_rate."""
        names = fields if fields is None or isinstance(fields, str) else ",".join(fields)
        bits = u32(0)
        if names is not None and self._lib.capture_export_fields_parse(
                _b(names), ctypes.byref(bits)) < 0:
            raise ValueError("fields must be names of mac, vlan, mpls, tunnel, ttl, tos, "
                             "interface, community_id, app, tcp, payload, geo, all, none "
                             "(each with an optional + or -), got %r" % (fields,))
        if export_rate == "unpaced":
            return bits.value, (1 << 64) - 1	# CAPTURE_EXPORT_UNPACED
        if export_rate is None or (isinstance(export_rate, int) and export_rate > 0):
            return bits.value, export_rate or 0
        raise ValueError("export_rate must be records/s (an integer > 0) or 'unpaced'")

    def enable_netflow_export(self, collector=None, port=0, version=10, transport="udp",
                              path=None, template_refresh_sec=0, observation_domain=0, mtu=0,
                              uniflow=False, nanoseconds=False, tcp_queue_records=0,
                              fields=None, ipfix_pen=0, export_rate=None, export_rate_bits=0,
                              sample_scale=False):
        """Add a NetFlow v5/v9 or IPFIX (10) exporter: UDP/TCP to collector:port,
        or an IPFIX file at @path (transport="file"). @fields, @ipfix_pen,
        @export_rate, @export_rate_bits, @sample_scale: as add_export."""
        if version not in (5, 9, 10):
            raise ValueError("version must be 5, 9 or 10")
        if transport not in _TRANSPORTS:
            raise ValueError("transport must be udp, tcp or file")
        bits, rate = self._target_opts(fields, export_rate)
        nc = CaptureNetflowConfig(
            version=version, transport=_TRANSPORTS[transport], uniflow=bool(uniflow),
            collector=_b(collector), port=_u32("port", port, 0, 65535), path=_b(path),
            template_refresh_sec=_u32("template_refresh_sec", template_refresh_sec),
            observation_domain=_u32("observation_domain", observation_domain),
            mtu=_u32("mtu", mtu), nanoseconds=bool(nanoseconds),
            tcp_queue_records=_u32("tcp_queue_records", tcp_queue_records), fields=bits,
            ipfix_pen=_u32("ipfix_pen", ipfix_pen), rate_records=rate,
            rate_bits=export_rate_bits or 0, sample_scale=bool(sample_scale))
        self._keep.append(nc)
        self._call(self._lib.capture_netflow_enable, "capture_netflow_enable", ctypes.byref(nc))

    def add_export(self, target, observation_domain=0, template_refresh_sec=0, mtu=0,
                   store_max_rows=0, store_max_age_sec=0, uniflow=False, props=None,
                   fields=None, ipfix_pen=0, export_rate=None, export_rate_bits=0,
                   sample_scale=False):
        """Add an exporter by target string (json:PATH, sqlite:PATH, ipfix://H:P,
        kafka://H:P/TOPIC, clickhouse://H:P/DB.TABLE, ...). @props: Kafka/ClickHouse
        settings, {"kafka.compression.type": "zstd", ...}. IPFIX/NetFlow v9:
        @fields as jcap --fields ("+mac,+app", "all" or a list), @ipfix_pen the
        enterprise number of jcap's own elements; UDP: @export_rate records/s
        (or "unpaced"; default 20000 for a file, unpaced live), @export_rate_bits
        bits/s; @sample_scale: counts times the sampling interval."""
        bits, rate = self._target_opts(fields, export_rate)
        lines = None
        if props:
            for k, v in props.items():
                if "\n" in str(k) + str(v) or "=" in str(k):
                    raise ValueError("props: no newline in keys or values, no '=' in keys")
            lines = "\n".join("%s=%s" % (k, v) for k, v in props.items())
        o = CaptureExportOpts(observation_domain=observation_domain,
                              template_refresh_sec=template_refresh_sec, mtu=mtu,
                              store_max_rows=store_max_rows,
                              store_max_age_sec=store_max_age_sec, uniflow=bool(uniflow),
                              props=_b(lines), fields=bits,
                              ipfix_pen=_u32("ipfix_pen", ipfix_pen), rate_records=rate,
                              rate_bits=export_rate_bits or 0,
                              sample_scale=bool(sample_scale))
        self._call(self._lib.capture_export_add, "capture_export_add", _b(target),
                   ctypes.byref(o))

    def enable_pcap_output(self, dir, format="pcap", rotate_size_mb=0, rotate_seconds=0,
                           max_files=0, snaplen=0, filter=None, queue_packets=0):
        """Store captured packets in rotating files under @dir."""
        if format not in ("pcap", "pcapng"):
            raise ValueError("format must be pcap or pcapng")
        pc = CapturePcapOutConfig(dir=_b(dir), format=0 if format == "pcap" else 1,
                                  rotate_bytes=_u32("rotate_size_mb", rotate_size_mb) << 20,
                                  rotate_seconds=_u32("rotate_seconds", rotate_seconds),
                                  max_files=_u32("max_files", max_files),
                                  snaplen=_u32("snaplen", snaplen), filter=_b(filter),
                                  queue_packets=_u32("queue_packets", queue_packets))
        self._keep.append(pc)
        self._call(self._lib.capture_pcap_out_enable, "capture_pcap_out_enable",
                   ctypes.byref(pc))

    def enable_encryption(self, key_file, algorithm="aes-256-gcm"):
        """Encrypt the stored packets (enable_pcap_output) with the key in @key_file
        (32 raw bytes or 64 hex digits); the key itself never passes through Python."""
        if algorithm not in _CIPHERS:
            raise ValueError("algorithm must be one of %s" % (tuple(_CIPHERS),))
        ec = CaptureEncryptionConfig(key_file=_b(key_file), cipher=_CIPHERS[algorithm])
        self._keep.append(ec)
        self._call(self._lib.capture_set_encryption, "capture_set_encryption",
                   ctypes.byref(ec))

    def add_artifact(self, image, signature, public_key, digest="sha256", padding="pkcs1"):
        """An artifact start() verifies first; a bad one refuses the start."""
        o = CaptureVerifyOpts(digest=digest.encode(), padding=_PADDINGS[padding])
        self._call(self._lib.capture_add_artifact, "capture_add_artifact", _b(image),
                   _b(signature), _b(public_key), ctypes.byref(o))

    verify_firmware = staticmethod(verify_firmware)

    # -- lifecycle

    def start(self):
        """Start capturing in the background; returns at once."""
        self._call(self._lib.capture_start, "capture_start")
        # the counters restart at zero: the first get_metrics() gives the
        # rate since the start instead of 0.0
        with self._lock:
            self._last_sample = (time.monotonic(), 0, 0)
        return self

    def poll(self, timeout_ms=0) -> str:
        """The session state name after waiting up to @timeout_ms (-1: forever)."""
        with self._using() as h:
            rc = self._lib.capture_poll(h, int(timeout_ms))
            _check(rc, "capture_poll", h)
        return STATE_NAMES.get(rc, str(rc))

    @property
    def state(self) -> str:
        """idle, running, done, stopped or failed (wait() raises the failure)."""
        with self._using() as h:
            rc = self._lib.capture_poll(h, 0)
        return STATE_NAMES.get(rc, str(rc)) if rc >= 0 else "failed"

    def wait(self, timeout=None) -> str:
        """Block until the session ends by itself (end of file, duration, count)
        or @timeout seconds pass; returns the state name ("running" on timeout).
        Waits in short slices so that KeyboardInterrupt is honoured."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            slice_ms = 200
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    st = self.poll(0)
                    break
                slice_ms = max(1, min(200, int(left * 1000)))
            st = self.poll(slice_ms)
            if st != "running":
                break
        self._raise_cb_error()
        return st

    def stop(self, graceful=True):
        """Stop the session. Graceful: every live flow is flushed (end_reason
        "shutdown") to every exporter and every file closed valid."""
        with self._using() as h:
            rc = self._lib.capture_stop(h, bool(graceful))
            if rc < 0 and -rc != 1000:	# already finished: nothing to stop
                _check(rc, "capture_stop", h)
        self._raise_cb_error()

    def close(self):
        """Free the session (stops it, not gracefully, if still running).
        Safe while other threads use the engine: they get "engine is closed"
        from then on, and calls already in flight finish first."""
        with self._use_cv:
            h, self._h = self._h, ctypes.c_void_p()
            if h:
                # a poll(-1) or wait() in flight ends with the session
                self._lib.capture_request_stop(h)
            while self._users:
                self._use_cv.wait()
        if h:
            self._lib.capture_destroy(h)
        self._keep.clear()

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            if self._h and self.state == "running":
                self.stop(graceful=exc_type is None)
        finally:
            self.close()
        return False

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    # -- reading

    def get_metrics(self, per_worker=False) -> CaptureMetrics:
        st = CaptureStats()
        self._call(self._lib.capture_get_stats, "capture_get_stats", ctypes.byref(st))
        m = CaptureMetrics._from_c(st)
        now = time.monotonic()
        with self._lock:
            prev, self._last_sample = self._last_sample, (now, m.packets_read, m.bytes_read)
        if prev and now > prev[0]:
            m.pps = (m.packets_read - prev[1]) / (now - prev[0])
            m.bps = (m.bytes_read - prev[2]) * 8 / (now - prev[0])
        if per_worker:
            for w in range(st.workers):
                ws = CaptureStats()
                self._call(self._lib.capture_get_worker_stats, "capture_get_worker_stats", w,
                           ctypes.byref(ws))
                m.per_worker.append(CaptureMetrics._from_c(ws))
        return m

    def get_status(self) -> Dict:
        s = CaptureStatus()
        self._call(self._lib.capture_get_status, "capture_get_status", ctypes.byref(s))
        d = {f: getattr(s, f) for f, _ in CaptureStatus._fields_ if f != "sz"}
        for k, v in d.items():
            if isinstance(v, bytes):
                d[k] = v.decode(errors="replace")
        d["state"] = STATE_NAMES.get(s.state, str(s.state))
        return d

    def get_flows(self, limit=10, sort_by="bytes", include_finished=False) -> List[FlowStats]:
        """Flows sorted by @sort_by (bytes, packets, duration, last_seen; largest
        first), at most @limit of them (0: all). include_finished adds the flows
        that ended since the session started (kept in the ended-flow ring)."""
        if sort_by not in _SORTS:
            raise ValueError("sort_by must be one of %s" % (tuple(_SORTS),))
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError("limit must be an int >= 0 (0: all)")
        flags = _FLAG_ACTIVE | (_FLAG_ENDED if include_finished else 0)
        total = u64(0)
        cap = 1024
        for _ in range(5):
            arr = (CaptureFlow * cap)()
            n = self._call(self._lib.capture_flow_get_all, "capture_flow_get_all", arr, cap,
                           flags, ctypes.byref(total))
            if total.value <= cap:
                break
            cap = total.value + total.value // 8 + 64
        flows = [FlowStats._from_c(arr[i], self._reason) for i in range(n)]
        flows.sort(key=_SORTS[sort_by], reverse=True)
        return flows[:limit] if limit else flows

    def lookup_flow(self, src_ip, dst_ip, src_port=0, dst_port=0, proto=6,
                    vlan=0, tunnel_type=0, tunnel_id=0, interface=0) -> Optional[FlowStats]:
        """The active flow of this 5-tuple (either direction), or None. ICMP:
        src_port is the type, dst_port the code; tunnel_type is an enum
        capture_tunnel number; interface: the pcapng interface id."""
        a, b = ipaddress.ip_address(src_ip), ipaddress.ip_address(dst_ip)
        if a.version != b.version:
            raise ValueError("src_ip and dst_ip must be the same IP version")
        k = CaptureFlowKey(ip_version=a.version, proto=proto, vlan=vlan, src_port=src_port,
                           dst_port=dst_port, tunnel_type=tunnel_type,
                           tunnel_id=_u32("tunnel_id", tunnel_id),
                           interface=_u32("interface", interface))
        ctypes.memmove(k.src_ip, a.packed, len(a.packed))
        ctypes.memmove(k.dst_ip, b.packed, len(b.packed))
        out = CaptureFlow()
        with self._using() as h:
            rc = self._lib.capture_flow_lookup(h, ctypes.byref(k), ctypes.byref(out))
            if rc == -1012:
                return None
            _check(rc, "capture_flow_lookup", h)
        return FlowStats._from_c(out, self._reason)
