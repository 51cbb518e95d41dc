"""Write the seed corpus of the fuzz harness (tests/fuzz/corpus/*.bin, corpus-big/*.bin).

Each seed is one call, laid out as fuzz_api.cpp reads its input: the case
index, the options byte, the case's shape fields (top-k: k, metric, and one
byte for both output strides), one placement byte per pointer, then the
value scale, the special-value density, an 8-byte seed and
a few bytes choosing the classes of the leading elements. Run it again after
changing that layout; libFuzzer grows its own corpus from these in
build-fuzz/corpus.

The big seeds (the big option: as much work as several threads take, or the
packed kernel's 256 query rows) go to corpus-big: fuzz_replay runs them with
the others (make test, make test-asan), libFuzzer is not given them (make
fuzz). One of them costs as much as hundreds of small inputs, and their
mutants stay big: seeded, they took most of the fuzzer's time. libFuzzer
still reaches the big option by mutation.
"""

from __future__ import annotations

import struct
from pathlib import Path

CASES = [
    "dot_f32", "dot_f64", "cosine_similarity_f32", "cosine_similarity_f64",
    "dot_rows_f32", "dot_rows_f64", "cosine_similarity_rows_f32", "cosine_similarity_rows_f64",
    "norms_f32", "norms_f64", "normalize_f32", "normalize_f64",
    "cdist_f32", "cdist_f64", "topk_f32", "topk_f64",
    "dot_f16", "dot_bf16", "dot_i8",
    "cosine_similarity_f16", "cosine_similarity_bf16", "cosine_similarity_i8",
    "dot_rows_f16", "dot_rows_bf16", "dot_rows_i8",
    "cosine_similarity_rows_f16", "cosine_similarity_rows_bf16", "cosine_similarity_rows_i8",
    "norms_f16", "norms_bf16", "norms_i8",
    "convert_f32_to_f16", "convert_f32_to_bf16", "quantize_f32_to_i8",
    "convert_f16_to_f32", "convert_bf16_to_f32", "dequantize_i8_to_f32",
    "normalize_f32_to_f16", "normalize_f32_to_bf16", "normalize_f32_to_i8",
    "cdist_f16", "cdist_bf16", "cdist_i8", "topk_f16", "topk_bf16", "topk_i8",
]  # fmt: skip
INTERESTING_DIMS = [
    63, 64, 65, 127, 128, 129, 255, 256, 257, 383, 384, 385, 511, 512,
    513, 767, 768, 769, 1023, 1024, 1025, 1535, 1536, 2047, 2048, 2049, 4095, 4096,
]  # fmt: skip

OWN, NULL, MISALIGNED, ALIAS = 0, 4, 5, 6  # placement codes (alias: first target, shift 0)
STRIDE_DIM, STRIDE_GAP, STRIDE_ZERO, STRIDE_BELOW, STRIDE_HUGE = 0, 3, 4, 5, 6
NAN_FIRST = 0x84  # element class byte: 1 + 0x84 % 13 == 3, a NaN


def options(threads: int = 1, big: bool = False, flag: int = 0, no_report: bool = False) -> int:
    """The options byte; no_report passes first_nonfinite as NULL (normalize); big (bits 2, 3
    and 7) needs threads > 1, and for the row functions a rows byte from rows_big()."""
    return (threads - 1) | (0x8C if big else 0) | (flag << 4) | (0x40 if no_report else 0)


OUT_KK, OUT_GAP, OUT_BELOW, OUT_HUGE = 0, 1, 2, 3  # top-k output stride codes


def out_strides(indices: int = OUT_KK, scores: int = OUT_KK, extra: int = 0) -> int:
    """The top-k output strides byte: low nibble indices, high nibble scores."""
    return (indices | (extra << 2)) | ((scores | (extra << 2)) << 4)


def dim(d: int) -> bytes:
    """Two bytes giving dim d (0..512, one of INTERESTING_DIMS, or 513 + 7 c / 2 for c < 1024),
    or a huge dim for d < 0. The top 6 bits of the code pick a class (read_dim)."""
    if d < 0:
        return struct.pack("<H", 63 << 10)  # k_huge[0]
    if d < 33:  # classes 0..39: code % 33
        return struct.pack("<H", d)
    if d <= 136:  # classes 40..55: 33 + code % 104
        base = 40 << 10
        return struct.pack("<H", base + (d - 33 - base) % 104)
    if d <= 512:  # classes 56..60: 137 + code % 376
        base = 56 << 10
        return struct.pack("<H", base + (d - 137 - base) % 376)
    if d in INTERESTING_DIMS:  # class 61: k_interesting_dims[low % 28]
        return struct.pack("<H", (61 << 10) + INTERESTING_DIMS.index(d))
    for low in range(1024):  # class 62: 513 + 7 * low / 2
        if 513 + 7 * low // 2 == d:
            return struct.pack("<H", (62 << 10) + low)
    raise ValueError(f"dim {d} has no code")


def rows(r: int) -> int:
    """The rows byte for r rows (0..32)."""
    if r < 9:  # the harness takes code % 9 below 0xC0
        return r
    return 0xC0 + (r - 0xC0) % 33  # and code % 33 from 0xC0 up


def rows_big(extra: int = 0) -> int:
    """The rows byte of a big row-function call (options(big=True), dim 64..4096): the rows
    the work of its threads takes, plus extra (0..15)."""
    return 0xE0 | extra


def place(code: int, lead: int = 0) -> int:
    return code | (lead << 3)


def alias_to(target: int, shift: int = 0) -> int:
    """A placement for the reduced-precision cdist and top-k cases (read_placement_any):
    the buffer of the target-th of the argument's alias targets, shift elements in."""
    return (7 if shift == 0 else 6) | (target << 3) | (shift << 6)


def query_rows_big(m: int) -> int:
    """The query rows byte for m rows of the packed kernel in the reduced-precision cdist and
    top-k cases: 256..263, or 248..263 with the big option."""
    assert 248 <= m <= 263
    return 0xE0 | (m - 248)


def values(scale: int = 0, density: int = 0, seed: int = 1, classes: bytes = b"") -> bytes:
    return bytes([scale, density]) + struct.pack("<Q", seed) + classes


def seed(name: str, *fields: int | bytes) -> tuple[str, bytes]:
    case = name.split("__")[0]
    out = bytearray([CASES.index(case)])
    for f in fields:
        out += f if isinstance(f, bytes) else bytes([f])
    return name, bytes(out)


# fmt: off
SEEDS = [
    seed("dot_f32__768", options(), dim(768), OWN, place(OWN, 1), OWN, values()),
    seed("dot_f64__empty_null", options(), dim(0), NULL, NULL, OWN, values()),
    seed("cosine_similarity_f32__specials", options(), dim(33), OWN, OWN, OWN, values(0, 64, 7)),
    seed("cosine_similarity_f64__huge_scale", options(), dim(127), OWN, OWN, OWN, values(0xD1)),
    seed("cosine_similarity_f64__result_in_input", options(), dim(9), OWN, OWN, ALIAS, values()),
    seed("dot_rows_f32__broadcast", options(), 8, dim(17), STRIDE_ZERO, STRIDE_GAP, OWN, OWN, OWN,
         values(0, 0, 3)),
    seed("dot_rows_f64__out_overlaps_a", options(2), 5, dim(12), STRIDE_DIM, STRIDE_DIM, OWN, OWN,
         ALIAS, values()),
    seed("cosine_similarity_rows_f64__huge_scale", options(), 5, dim(768), STRIDE_DIM, STRIDE_ZERO,
         OWN, OWN, OWN, values(0xD1)),
    seed("cosine_similarity_rows_f32__tiny", options(), 6, dim(100), STRIDE_DIM, STRIDE_DIM,
         place(OWN, 3), OWN, OWN, values(0x90, 32)),
    seed("norms_f32__big_values", options(), 4, dim(1023), STRIDE_DIM, OWN, OWN, values(0xF0, 16)),
    seed("norms_f64__dim0_huge_stride", options(), rows(16), dim(0), STRIDE_HUGE, OWN, OWN, values()),
    seed("norms_f64__stride_below_dim", options(), 3, dim(8), STRIDE_BELOW, OWN, OWN, values()),
    seed("normalize_f32__in_place", options(3), 6, dim(64), STRIDE_GAP, STRIDE_GAP, OWN, ALIAS,
         values(0, 8)),
    seed("normalize_f64__raise_nan", options(flag=1), 4, dim(31), STRIDE_DIM, STRIDE_DIM, OWN, OWN,
         values(0, 0, 5, bytes([NAN_FIRST]))),
    seed("normalize_f32__bad_flag", options(flag=2), 2, dim(5), STRIDE_DIM, STRIDE_DIM, OWN, OWN,
         values()),
    seed("normalize_f32__threads", options(4, big=True), rows_big(3), dim(64), STRIDE_DIM, STRIDE_DIM,
         OWN, OWN, values(0, 4)),
    seed("normalize_f32__threads_raise_no_report", options(2, big=True, flag=1, no_report=True),
         rows_big(5), dim(100), STRIDE_DIM, STRIDE_DIM, OWN, OWN, values(0, 2)),
    seed("normalize_f64__first_nonfinite_huge_rows", options(flag=0), 5, dim(8), STRIDE_DIM,
         STRIDE_GAP, OWN, OWN, values(0xF8, 0, 9, bytes([0, 0, 0, 0, 0, 0, 0, 0, NAN_FIRST]))),
    seed("norms_f32__empty_misaligned", options(), 0, dim(7), STRIDE_DIM, place(MISALIGNED, 1),
         place(MISALIGNED, 2), values()),
    seed("normalize_f64__misaligned_out", options(), 3, dim(16), STRIDE_DIM, STRIDE_DIM, OWN,
         place(MISALIGNED, 1), values()),
    seed("cdist_f32__cosine", options(), 4, 7, dim(33), STRIDE_DIM, STRIDE_GAP, 0, 0, OWN, OWN, OWN,
         values(0, 16)),
    seed("cdist_f64__sqeuclidean", options(2), 3, 5, dim(12), STRIDE_DIM, STRIDE_DIM, 4, 2, OWN,
         OWN, OWN, values()),
    seed("cdist_f32__threads", options(2, big=True), rows(32), rows(32), dim(128), STRIDE_DIM,
         STRIDE_DIM, 0, 1, OWN, OWN, OWN, values(0, 8)),
    seed("cdist_f32__bad_metric", options(), 2, 2, dim(4), STRIDE_DIM, STRIDE_DIM, 0, 6, OWN, OWN,
         OWN, values()),
    seed("topk_f32__dot_k3", options(), 5, rows(20), dim(16), STRIDE_DIM, STRIDE_DIM, 3 | (2 << 2), 1,
         out_strides(), OWN, OWN, OWN, OWN, values(0, 8)),
    seed("topk_f64__dim0_huge_k", options(), 2, rows(9), dim(0), STRIDE_DIM, STRIDE_DIM, 2, 0,
         out_strides(), OWN, OWN, OWN, OWN, values()),
    seed("topk_f32__threads_split_base", options(2, big=True), rows(32), rows(32), dim(128),
         STRIDE_DIM, STRIDE_DIM, 3 | (2 << 2), 2, out_strides(), OWN, OWN, OWN, OWN, values(0, 8)),
    seed("topk_f32__k0", options(), 2, 3, dim(4), STRIDE_DIM, STRIDE_DIM, 0, 2, out_strides(), OWN,
         OWN, OWN, OWN, values()),
    seed("topk_f32__strided_outputs", options(2), 7, rows(30), dim(33), STRIDE_GAP, STRIDE_DIM,
         3 | (1 << 2), 0, out_strides(OUT_GAP, OUT_GAP, 2), OWN, OWN, OWN, OWN, values(0, 16)),
    seed("topk_f64__scores_stride_below_kk", options(), 3, rows(10), dim(5), STRIDE_DIM, STRIDE_DIM,
         3 | (2 << 2), 2, out_strides(OUT_KK, OUT_BELOW), OWN, OWN, OWN, OWN, values()),
    seed("topk_f32__empty_base_misaligned_outputs", options(), 3, 0, dim(5), STRIDE_DIM,
         STRIDE_DIM, 3, 1, out_strides(), OWN, place(MISALIGNED, 1), place(MISALIGNED, 1),
         place(MISALIGNED, 2), values()),
    # Reduced-precision types (i8 operands: codes, then their scales).
    seed("cosine_similarity_bf16__specials", options(), dim(33), OWN, OWN, OWN, values(0, 64, 7)),
    seed("dot_i8__result_in_scales", options(), dim(9), OWN, OWN, OWN, OWN, ALIAS, values()),
    seed("dot_rows_f16__broadcast", options(), 8, dim(17), STRIDE_ZERO, STRIDE_GAP, OWN, OWN, OWN,
         values(0, 0, 3)),
    seed("cosine_similarity_rows_i8__broadcast", options(2), 6, dim(40), STRIDE_DIM, STRIDE_ZERO,
         OWN, OWN, OWN, OWN, OWN, values(0, 16)),
    seed("norms_bf16__big_values", options(), 4, dim(300), STRIDE_DIM, OWN, OWN, values(0xF0, 16)),
    seed("convert_f32_to_f16__specials", options(), 5, dim(70), STRIDE_GAP, STRIDE_DIM, OWN, OWN,
         values(0, 64, 11)),
    seed("quantize_f32_to_i8__nan_row", options(), 4, dim(31), STRIDE_DIM, STRIDE_DIM, OWN, OWN, OWN,
         values(0, 0, 5, bytes([NAN_FIRST]))),
    seed("normalize_f32_to_i8__threads", options(3, big=True), rows_big(7), dim(64), STRIDE_DIM,
         STRIDE_DIM, OWN, OWN, OWN, values(0, 4)),
    seed("normalize_f32_to_bf16__raise_nan", options(flag=1), 4, dim(31), STRIDE_DIM, STRIDE_DIM,
         OWN, OWN, values(0, 0, 5, bytes([NAN_FIRST]))),
    seed("dequantize_i8_to_f32__scales_in_codes", options(), 3, dim(26), STRIDE_DIM, STRIDE_DIM,
         OWN, OWN, ALIAS, values(0, 32)),
    # Reduced-precision cdist and top-k: bitwise the float32 functions on the widened rows.
    # cdist: m, n, dim, a and b strides, out code, metric, placements; i8: a, a_scales, b,
    # b_scales, out (alias_to numbers out's targets a, b, a_scales, b_scales).
    seed("cdist_f16__cosine", options(), 4, 7, dim(33), STRIDE_DIM, STRIDE_GAP, 0, 0, OWN, OWN,
         OWN, values(0, 16)),
    seed("cdist_bf16__sqeuclidean_specials", options(2), 3, 5, dim(12), STRIDE_DIM, STRIDE_DIM, 4,
         2, OWN, OWN, OWN, values(0, 64, 7)),
    seed("cdist_i8__dot", options(), 5, 6, dim(40), STRIDE_GAP, STRIDE_DIM, 0, 1, OWN, OWN, OWN,
         OWN, OWN, values(0, 16)),
    seed("cdist_i8__special_scales", options(), 6, 4, dim(9), STRIDE_DIM, STRIDE_DIM, 0, 2, OWN,
         OWN, OWN, OWN, OWN, values(0, 96, 11)),
    seed("cdist_i8__scales_in_codes", options(), 3, 4, dim(20), STRIDE_DIM, STRIDE_DIM, 0, 0, OWN,
         alias_to(0), OWN, OWN, OWN, values(0, 8)),
    seed("cdist_i8__out_in_b_scales", options(), 3, 4, dim(8), STRIDE_DIM, STRIDE_DIM, 0, 1, OWN,
         OWN, OWN, OWN, alias_to(3), values()),
    seed("cdist_i8__null_a_scales", options(), 3, 4, dim(8), STRIDE_DIM, STRIDE_DIM, 0, 1, OWN,
         NULL, OWN, OWN, OWN, values()),
    seed("cdist_i8__misaligned_b_scales", options(), 3, 4, dim(8), STRIDE_DIM, STRIDE_DIM, 0, 1,
         OWN, OWN, OWN, place(MISALIGNED, 1), OWN, values()),
    seed("cdist_f16__packed_threads", options(2, big=True), query_rows_big(260), rows(32), dim(16),
         STRIDE_DIM, STRIDE_DIM, 0, 0, OWN, OWN, OWN, values(0, 8)),
    seed("cdist_f16__packed", options(), query_rows_big(260), 4, dim(16), STRIDE_DIM, STRIDE_DIM,
         0, 0, OWN, OWN, OWN, values(0, 8)),
    seed("cdist_i8__packed_sqeuclidean", options(), query_rows_big(256), 3, dim(9), STRIDE_DIM,
         STRIDE_GAP, 0, 2, OWN, OWN, OWN, OWN, OWN, values(0, 16)),
    seed("cdist_bf16__bad_metric", options(), 2, 2, dim(4), STRIDE_DIM, STRIDE_DIM, 0, 6, OWN, OWN,
         OWN, values()),
    seed("cdist_f16__dim0", options(), 3, 4, dim(0), STRIDE_DIM, STRIDE_DIM, 0, 1, NULL, NULL, OWN,
         values()),
    # top-k: m, n, dim, q and base strides, k, metric, output strides, placements; i8: queries,
    # queries_scales, base, base_scales, indices, scores (scores' targets: queries, base,
    # queries_scales, base_scales, indices).
    seed("topk_f16__dot_k3", options(), 5, rows(20), dim(16), STRIDE_DIM, STRIDE_DIM, 3 | (2 << 2),
         1, out_strides(), OWN, OWN, OWN, OWN, values(0, 8)),
    seed("topk_bf16__sqeuclidean_strided", options(2), 7, rows(30), dim(33), STRIDE_GAP,
         STRIDE_DIM, 3 | (1 << 2), 2, out_strides(OUT_GAP, OUT_GAP, 2), OWN, OWN, OWN, OWN,
         values(0, 16)),
    seed("topk_i8__cosine_all", options(), 4, rows(12), dim(24), STRIDE_DIM, STRIDE_DIM, 1, 0,
         out_strides(), OWN, OWN, OWN, OWN, OWN, OWN, values(0, 32)),
    seed("topk_i8__special_scales", options(), 5, rows(10), dim(7), STRIDE_DIM, STRIDE_DIM,
         3 | (3 << 2), 1, out_strides(), OWN, OWN, OWN, OWN, OWN, OWN, values(0, 96, 13)),
    seed("topk_i8__scores_in_queries_scales", options(), 3, 6, dim(8), STRIDE_DIM, STRIDE_DIM, 3,
         0, out_strides(), OWN, OWN, OWN, OWN, OWN, alias_to(2), values()),
    seed("topk_i8__null_base_scales", options(), 3, 6, dim(8), STRIDE_DIM, STRIDE_DIM, 3, 0,
         out_strides(), OWN, OWN, OWN, NULL, OWN, OWN, values()),
    seed("topk_f16__packed_threads", options(3, big=True), query_rows_big(256), rows(32), dim(25),
         STRIDE_DIM, STRIDE_DIM, 3 | (2 << 2), 0, out_strides(), OWN, OWN, OWN, OWN,
         values(0, 8)),
    seed("topk_bf16__packed_dot", options(), query_rows_big(257), 7, dim(12), STRIDE_DIM,
         STRIDE_DIM, 3 | (1 << 2), 1, out_strides(), OWN, OWN, OWN, OWN, values(0, 8)),
    seed("topk_bf16__k0", options(), 2, 3, dim(4), STRIDE_DIM, STRIDE_DIM, 0, 2, out_strides(), OWN,
         OWN, OWN, OWN, values()),
    seed("topk_i8__dim0_huge_k", options(), 2, rows(9), dim(0), STRIDE_DIM, STRIDE_DIM, 2, 0,
         out_strides(), OWN, OWN, OWN, OWN, OWN, OWN, values()),
    seed("topk_i8__empty_base_misaligned_scales", options(), 3, 0, dim(5), STRIDE_DIM, STRIDE_DIM,
         3, 1, out_strides(), OWN, OWN, OWN, place(MISALIGNED, 1), OWN, OWN, values()),
]
# fmt: on


def is_big(data: bytes) -> bool:
    """The options byte (data[1]) asks for the big option (read_options)."""
    return len(data) > 1 and data[1] & 0x8C == 0x8C and data[1] & 3 != 0


def main() -> None:
    here = Path(__file__).resolve().parent
    dirs = {False: here / "corpus", True: here / "corpus-big"}
    for d in dirs.values():
        d.mkdir(exist_ok=True)
        for old in d.glob("*.bin"):
            old.unlink()
    for name, data in SEEDS:
        (dirs[is_big(data)] / f"{name}.bin").write_bytes(data)
    for big, d in dirs.items():
        count = sum(is_big(data) == big for _, data in SEEDS)
        print(f"{count} seeds in {d}")


if __name__ == "__main__":
    main()
