/* Packed-panel SGEMM for CPU OpenCL devices (PoCL, rusticl/llvmpipe); OpenCL C 1.2, float only.
 *
 *   C = alpha * op(A) * op(B) + beta * C      (row-major, op = identity or transpose)
 *
 * op(A) [M, K] is packed into MR-row panels, Ap[((i * K) + k) * MR + r] = op(A)[i*MR + r, k]
 * op(B) [K, N] is packed into NR-column panels, Bp[((j * K) + k) * NR + c] = op(B)[k, j*NR + c]
 * with zero padding past M / N. One work-item (local size 1) computes one MR x NR tile of C in
 * registers (MR * NR/VW vector accumulators of VW floats), in the order k = 0, 1, ..., K-1, one
 * fma per term:
 *
 *   acc = fma(a[k], b[k], acc);  out = alpha * acc;  if (beta != 0) out = fma(beta, C, out)
 *
 * Every element of C therefore has the same, fixed summation order whatever the tile sizes, K
 * blocking, grid order, path (packed / fused) or device: results are deterministic and
 * bit-identical across all of these (and to a scalar C reference that uses fmaf in the same
 * order). No atomics, no split-K. FP_CONTRACT is off so the compiler cannot fuse anything else;
 * build without -cl-fast-relaxed-math and -cl-mad-enable.
 *
 * Kernels:
 *   pack_a, pack_b            op(A) / op(B) (offset, leading dimension, transpose) -> panels
 *   pack_b_im2col             implicit im2col: cols[Cin*kh*kw, nc*ho*wo] of X[Cin, n, h, w] -> B panels
 *   pack_bt_im2col            cols^T (weight gradient dW = dY * cols^T) -> B panels
 *   gemm_packed               micro-kernel over packed A and B panels
 *   gemm_fused                packed A, B packed on the fly per K block into __local (row-major
 *                             or transposed B)
 *   gemm_fused_im2col(_t)     same, B gathered straight from X (forward / weight gradient)
 *   gemm_packed_wg            gemm_packed with the tile over a work-group's lanes (-DLANES)
 *   pack_b(t)_im2col_wg       the im2col packs with a panel column per work-item (-DGATHER_LANES)
 *
 * Build options (all optional):
 *   -DMR=n        rows per register tile                            (default 4; best on PoCL: 6)
 *   -DNR=n        columns per register tile, a multiple of VW       (default 16)
 *   -DVW=4|8|16   vector width of a tile row piece (float8 = one AVX2 ymm register; default 8)
 *   -DKU=n        k-loop unroll in the micro-kernel                 (default 2)
 *   -DTM=n        M tiles per work-item in gemm_packed              (default 1)
 *   -DPK=n        k values per work-item in the pack kernels        (default 16)
 *   -DPJ=n        panels per work-item in the row-copying pack kernels (default 8)
 *   -DMUL_ADD     multiply then add instead of fma (devices without hardware fma)
 *   -DNO_FUSED    leave out the fused kernels (a plan that pre-packs B: a much faster build)
 *   -DLANES       build gemm_packed_wg
 *   -DGATHER_LANES build pack_b_im2col_wg and pack_bt_im2col_wg (one panel column per work-item)
 *   -DPREFETCH    software prefetch of the next K block in gemm_fused (PoCL only: rusticl's
 *                 SPIR-V translator rejects llvm.prefetch)
 * Run-time choices (kernel arguments): grid order, streaming stores in pack_b, K block kc, N block jb,
 * M range mblk and M sub-block mc of the fused kernels.
 *
 * Indices: sizes up to 2^31 elements (int); panel and row offsets computed in size_t.
 */
#pragma OPENCL FP_CONTRACT OFF
#include "per_item.h"

/* One multiply-accumulate: fma, or with -DMUL_ADD a multiply and an add,
 * each rounded (FP_CONTRACT is off): for devices whose fma is emulated in
 * software (Mesa's llvmpipe), where the fma chain crawls. The same order
 * either way; MUL_ADD plans agree bit for bit among themselves. */
#ifdef MUL_ADD
#define MAC(a, b, c) ((a) * (b) + (c))
#else
#define MAC(a, b, c) fma((a), (b), (c))
#endif

#ifndef MR
#define MR 4
#endif
#ifndef NR
#define NR 16
#endif
#ifndef VW
#define VW 8
#endif
#ifndef KU
#define KU 2
#endif
#ifndef TM
#define TM 1
#endif
#ifndef PK
#define PK 16
#endif

#if NR % VW != 0
#error "NR must be a multiple of VW"
#endif
#define NV (NR / VW)

#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define VT CAT(float, VW)
#define VLOAD CAT(vload, VW)
#define VSTORE CAT(vstore, VW)
#define RT CAT(float, NR) /* only used when NR is a valid vector width */

/* ------------------------------------------------------------------------------------------ */
/* Packing                                                                                    */
/* ------------------------------------------------------------------------------------------ */

/* Two packing patterns cover both operands:
 *
 *  - "gather rows" (A not transposed, B transposed): the R = MR (or NR) values a panel needs at
 *    step k sit in R different rows of the stored matrix, each contiguous along k. A work-item
 *    reads PK contiguous floats of each of the R rows (R sequential streams) and writes the
 *    PK x R block of the panel transposed, contiguously.
 *  - "copy rows" (A transposed, B not transposed): the R values sit contiguously in row k. A
 *    work-item copies PJ panels' worth (PJ * R contiguous floats) of each of PK rows.
 *
 * pack_a / pack_b only choose the pattern and the panel width; the grid is
 * (ceil(K / PK), ceil(panels / PJ)) for "copy rows" and (ceil(K / PK), panels) for "gather rows". */

#ifndef PJ
#define PJ 8
#endif

/* Panel p (R columns of op(X) starting at p*R, of `count` valid) over k in [k0, k1), op(X)[k][i]
 * = src[i * ld + k]: R rows of src, contiguous along k. */
inline void pack_gather(__global const float *src, const int ld, const int count, const int R, const int k0,
                        const int k1, __global float *dst)
{
    /* dst[(k - k0) * R + i] = src[i * ld + k] */
    for (int i = 0; i < R; i++) {
        __global float *d = dst + i;
        if (i < count) {
            __global const float *s = src + (size_t)i * ld;
            for (int k = k0; k < k1; k++, d += R) *d = s[k];
        } else {
            for (int k = k0; k < k1; k++, d += R) *d = 0.0f;
        }
    }
}

/* Ap <- op(A) [M, K] in MR-row panels. */
__kernel PER_ITEM void pack_a(const int M, const int K, __global const float *A, const int a_off, const int lda,
                     const int trans, __global float *Ap)
{
    const int kb = get_global_id(0), pb = get_global_id(1);
    const int k0 = kb * PK;
    if (k0 >= K) return;
    const int k1 = min(K, k0 + PK);
    __global const float *a = A + a_off;
    if (!trans) {
        const int i = pb, m0 = i * MR;
        if (m0 >= M) return;
        pack_gather(a + (size_t)m0 * lda, lda, min(MR, M - m0), MR, k0, k1, Ap + ((size_t)i * K + k0) * MR);
    } else {
        for (int i = pb * PJ; i < pb * PJ + PJ; i++) {
            const int m0 = i * MR;
            if (m0 >= M) return;
            const int mv = min(MR, M - m0);
            __global float *dst = Ap + ((size_t)i * K + k0) * MR;
            for (int k = k0; k < k1; k++) {
                __global const float *src = a + (size_t)k * lda + m0;
                for (int r = 0; r < MR; r++) dst[r] = r < mv ? src[r] : 0.0f;
                dst += MR;
            }
        }
    }
}

/* Streaming (non-temporal) store of one VW-float piece: skips the read-for-ownership of the
 * destination line, worth it when the packed B is much larger than the last-level cache (it is
 * read back from memory anyway). dst must be VW-aligned: panel rows are NR floats, NR a multiple
 * of VW, and buffers are at least 128-byte aligned. Clang drops the !nontemporal hint when an
 * if/else stores the same value to the same address on both sides (the two stores get merged),
 * so the streaming variant must live in its own loop, never in an if/else around a plain store. */
#if defined(__has_builtin)
#if __has_builtin(__builtin_nontemporal_store)
#define NT_PIECE(v, dst) __builtin_nontemporal_store((v), (__global VT *)(dst))
#endif
#endif
#ifndef NT_PIECE
#define NT_PIECE(v, dst) VSTORE((v), 0, (dst))
#endif

/* Bp <- op(B) [K, N] in NR-column panels. */
__kernel PER_ITEM void pack_b(const int N, const int K, __global const float *B, const int b_off, const int ldb,
                     const int trans, __global float *Bp, const int nt)
{
    const int kb = get_global_id(0), pb = get_global_id(1);
    const int k0 = kb * PK;
    if (k0 >= K) return;
    const int k1 = min(K, k0 + PK);
    __global const float *b = B + b_off;
    if (trans) {
        /* NR rows of the stored B, contiguous along k: for each k gather one value per row */
        const int j = pb, n0 = j * NR;
        if (n0 >= N) return;
        const int nv = min(NR, N - n0);
        __global const float *src = b + (size_t)n0 * ldb;
        __global float *dst = Bp + ((size_t)j * K + k0) * NR;
        for (int k = k0; k < k1; k++) {
            float t[NR];
#pragma unroll
            for (int c = 0; c < NR; c++) t[c] = c < nv ? src[(size_t)c * ldb + k] : 0.0f;
#pragma unroll
            for (int v = 0; v < NV; v++) VSTORE(VLOAD(v, t), v, dst);
            dst += NR;
        }
    } else {
        /* PK rows of PJ panels: PJ * NR contiguous floats of each row; full panels first (the
         * streaming variant in its own loop), then the partial last panel */
        const int j0 = pb * PJ;
        if (j0 * NR >= N) return;
        const int j1 = min(j0 + PJ, (N + NR - 1) / NR);
        const int jf = min(j1, N / NR); /* full panels: j0 .. jf-1 */
        if (nt) {
            for (int k = k0; k < k1; k++) {
                __global const float *src = b + (size_t)k * ldb;
                for (int j = j0; j < jf; j++) {
                    __global float *dst = Bp + ((size_t)j * K + k) * NR;
#pragma unroll
                    for (int v = 0; v < NV; v++) NT_PIECE(VLOAD(v, src + j * NR), dst + v * VW);
                }
            }
        } else {
            for (int k = k0; k < k1; k++) {
                __global const float *src = b + (size_t)k * ldb;
                for (int j = j0; j < jf; j++) {
                    __global float *dst = Bp + ((size_t)j * K + k) * NR;
#pragma unroll
                    for (int v = 0; v < NV; v++) VSTORE(VLOAD(v, src + j * NR), v, dst);
                }
            }
        }
        if (jf < j1) { /* the last, partial panel (zero-padded) */
            const int n0 = jf * NR;
            for (int k = k0; k < k1; k++) {
                __global const float *src = b + (size_t)k * ldb;
                __global float *dst = Bp + ((size_t)jf * K + k) * NR;
                for (int c = 0; c < NR; c++) dst[c] = n0 + c < N ? src[n0 + c] : 0.0f;
            }
        }
    }
    /* Streaming stores are weakly ordered; PoCL compiles this fence to nothing for x86, so their
     * visibility rests on the runtime's own synchronisation at kernel completion (locked
     * instructions drain the write-combining buffers). Checked bit-exact with GEMM_NT_MB=0. */
    if (nt) mem_fence(CLK_GLOBAL_MEM_FENCE);
}

/* Implicit im2col helpers shared by pack_b_im2col and gemm_fused_im2col.
 * IM2COL_COLS decomposes the NR consecutive columns p0 .. p0+NR-1 (of P) once: off[q] (offset
 * of the window's top-left input element, which may lie in the padding), iy0[q], ix0[q] (its
 * coordinates) and the masks ym[q] / xm[q] of the window rows ky / columns kx inside the image;
 * columns past P read nothing (pack 0). `contig` is set when the NR columns are one run of a
 * single output row with stride 1: then column q reads input column ix0[0] + q of the same input
 * row, and a row k of the panel is one contiguous vector load whenever that run is inside the
 * image. IM2COL_ROW writes row k = (ci, ky, kx) of the panel to d[0 .. NR); off the fast path,
 * each element is one mask test and one load. */
#define IM2COL_COLS(p0, P)                                                                                             \
    int off[NR], iy0[NR], ix0[NR], ym[NR], xm[NR];                                                                     \
    int contig_;                                                                                                       \
    {                                                                                                                  \
        for (int q = 0; q < NR; q++) {                                                                                 \
            const int p = (p0) + q;                                                                                    \
            if (p < (P)) {                                                                                             \
                const int img = p / (ho * wo), r = p - img * (ho * wo);                                                \
                const int oy = r / wo, ox = r - oy * wo;                                                               \
                iy0[q] = oy * stride - pad;                                                                            \
                ix0[q] = ox * stride - pad;                                                                            \
                off[q] = (i0 + img) * hw + iy0[q] * w + ix0[q];                                                        \
                int my = 0, mx = 0;                                                                                    \
                for (int t = 0; t < kh; t++) my |= (iy0[q] + t >= 0 && iy0[q] + t < h) << t;                           \
                for (int t = 0; t < kw; t++) mx |= (ix0[q] + t >= 0 && ix0[q] + t < w) << t;                           \
                ym[q] = my;                                                                                            \
                xm[q] = mx;                                                                                            \
            } else {                                                                                                   \
                off[q] = 0;                                                                                            \
                iy0[q] = -(1 << 30); /* always out of range */                                                         \
                ix0[q] = 0;                                                                                            \
                ym[q] = 0;                                                                                             \
                xm[q] = 0;                                                                                             \
            }                                                                                                          \
        }                                                                                                              \
        contig_ = stride == 1 && (p0) + NR <= (P) && off[NR - 1] - off[0] == NR - 1 && iy0[NR - 1] == iy0[0] &&        \
                  ix0[NR - 1] == ix0[0] + NR - 1;                                                                      \
    }

#define IM2COL_ROW(d, xc)                                                                                              \
    do {                                                                                                               \
        const int iyc_ = iy0[0] + ky, ixc_ = ix0[0] + kx;                                                              \
        if (contig_ && (iyc_ < 0 || iyc_ >= h)) {                                                                      \
            _Pragma("unroll") for (int v = 0; v < NV; v++) VSTORE((VT)(0.0f), v, (d));                                 \
        } else if (contig_ && ixc_ >= 0 && ixc_ + NR <= w) {                                                           \
            __global const float *s_ = (xc) + off[0] + ky * w + kx;                                                    \
            _Pragma("unroll") for (int v = 0; v < NV; v++) VSTORE(VLOAD(v, s_), v, (d));                               \
        } else {                                                                                                       \
            const int kyx_ = ky * w + kx;                                                                              \
            for (int q = 0; q < NR; q++) (d)[q] = ((ym[q] >> ky) & (xm[q] >> kx) & 1) ? (xc)[off[q] + kyx_] : 0.0f;    \
        }                                                                                                              \
    } while (0)

/* Implicit im2col, forward: packs cols[Kc, P] (Kc = Cin*kh*kw, P = nc*ho*wo) of the images
 * i0 .. i0+nc-1 of X[Cin, n, h, w] straight into NR-column panels (the GEMM's B, K = Kc, N = P):
 *   cols[k, p] = X[ci, i0+img, oy*stride - pad + ky, ox*stride - pad + kx]   (0 outside)
 *   k = (ci*kh + ky)*kw + kx,  p = (img*ho + oy)*wo + ox.
 * Global: (ceil(Kc / PK), ceil(P / NR)); a work-item decomposes its NR columns once and walks PK
 * rows k. */
__kernel PER_ITEM void pack_b_im2col(const int Kc, const int P, __global const float *X, const int n, const int h,
                            const int w, const int kh, const int kw, const int stride, const int pad, const int ho,
                            const int wo, const int i0, __global float *Bp)
{
    const int kb = get_global_id(0), j = get_global_id(1);
    const int k0 = kb * PK;
    if (k0 >= Kc || j * NR >= P) return;
    const int k1 = min(Kc, k0 + PK);
    const int hw = h * w;
    const size_t cstride = (size_t)n * hw; /* one input channel */
    IM2COL_COLS(j * NR, P);
    const int khw = kh * kw;
    int ci = k0 / khw, rem = k0 - ci * khw;
    int ky = rem / kw, kx = rem - ky * kw;
    __global float *dst = Bp + ((size_t)j * Kc + k0) * NR;
    for (int k = k0; k < k1; k++) {
        __global const float *xc = X + (size_t)ci * cstride;
        IM2COL_ROW(dst, xc);
        dst += NR;
        if (++kx == kw) {
            kx = 0;
            if (++ky == kh) {
                ky = 0;
                ci++;
            }
        }
    }
}

/* Implicit im2col, transposed (weight gradient dW[Cout, Kc] = dY[Cout, P] * cols^T): packs
 * cols^T [P, Kc] as the GEMM's B (K = P, N = Kc) into NR-column panels:
 *   Bp[(j*P + p)*NR + c] = cols[j*NR + c, p].
 * Global: (ceil(P / PK), ceil(Kc / NR)); a work-item decomposes its NR rows k once and walks PK
 * columns p. */
__kernel PER_ITEM void pack_bt_im2col(const int Kc, const int P, __global const float *X, const int n, const int h,
                             const int w, const int kh, const int kw, const int stride, const int pad, const int ho,
                             const int wo, const int i0, __global float *Bp)
{
    const int pb = get_global_id(0), j = get_global_id(1);
    const int p0 = pb * PK;
    if (p0 >= P || j * NR >= Kc) return;
    const int p1 = min(P, p0 + PK);
    const int hw = h * w;
    const int khw = kh * kw;
    int chan[NR], kyv[NR], kxv[NR];
    for (int c = 0; c < NR; c++) {
        const int k = j * NR + c;
        if (k < Kc) {
            const int ci = k / khw, rem = k - ci * khw;
            chan[c] = ci * n * hw; /* < Cin*n*h*w < 2^31 */
            kyv[c] = rem / kw;
            kxv[c] = rem - kyv[c] * kw;
        } else {
            chan[c] = 0;
            kyv[c] = -(1 << 30); /* always out of range */
            kxv[c] = 0;
        }
    }
    int img = p0 / (ho * wo), r = p0 - img * (ho * wo);
    int oy = r / wo, ox = r - oy * wo;
    __global float *dst = Bp + ((size_t)j * P + p0) * NR;
    for (int p = p0; p < p1; p++) {
        const int iyb = oy * stride - pad, ixb = ox * stride - pad;
        const int ib = (i0 + img) * hw;
        for (int c = 0; c < NR; c++) {
            const int iy = iyb + kyv[c], ix = ixb + kxv[c];
            dst[c] = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? X[chan[c] + ib + iy * w + ix] : 0.0f;
        }
        dst += NR;
        if (++ox == wo) {
            ox = 0;
            if (++oy == ho) {
                oy = 0;
                img++;
            }
        }
    }
}

#ifdef GATHER_LANES
/* pack_b_im2col and pack_bt_im2col with one panel column per work-item, for compilers that
 * vectorise across work-items (-DGATHER_LANES): local size (NR, 1), global (NR * ceil(P / NR),
 * ceil(Kc / PK)) and (NR * ceil(Kc / NR), ceil(P / PK)). Lane q decomposes its own column once;
 * its loads are one masked gather across the lanes and its stores one contiguous vector. Same
 * values as the per-work-item kernels (a copy: nothing is summed). */
__kernel void pack_b_im2col_wg(const int Kc, const int P, __global const float *X, const int n, const int h,
                               const int w, const int kh, const int kw, const int stride, const int pad, const int ho,
                               const int wo, const int i0, __global float *Bp)
{
    const int q = get_local_id(0), j = get_group_id(0), kb = get_group_id(1);
    const int k0 = kb * PK, p = j * NR + q;
    if (k0 >= Kc) return;
    const int k1 = min(Kc, k0 + PK);
    const int hw = h * w;
    const size_t cstride = (size_t)n * hw;
    int off = 0, iy0 = -(1 << 30), ix0 = 0; /* columns past P read nothing */
    if (p < P) {
        const int img = p / (ho * wo), r = p - img * (ho * wo);
        const int oy = r / wo, ox = r - oy * wo;
        iy0 = oy * stride - pad;
        ix0 = ox * stride - pad;
        off = (i0 + img) * hw + iy0 * w + ix0;
    }
    const int khw = kh * kw;
    int ci = k0 / khw, rem = k0 - ci * khw;
    int ky = rem / kw, kx = rem - ky * kw;
    __global float *dst = Bp + ((size_t)j * Kc + k0) * NR + q;
    for (int k = k0; k < k1; k++, dst += NR) {
        const int iy = iy0 + ky, ix = ix0 + kx;
        *dst = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? X[(size_t)ci * cstride + off + ky * w + kx] : 0.0f;
        if (++kx == kw) {
            kx = 0;
            if (++ky == kh) {
                ky = 0;
                ci++;
            }
        }
    }
}

__kernel void pack_bt_im2col_wg(const int Kc, const int P, __global const float *X, const int n, const int h,
                                const int w, const int kh, const int kw, const int stride, const int pad,
                                const int ho, const int wo, const int i0, __global float *Bp)
{
    const int c = get_local_id(0), j = get_group_id(0), pb = get_group_id(1);
    const int p0 = pb * PK, k = j * NR + c;
    if (p0 >= P) return;
    const int p1 = min(P, p0 + PK);
    const int hw = h * w, khw = kh * kw;
    int chan = 0, kyv = -(1 << 30), kxv = 0; /* rows past Kc read nothing */
    if (k < Kc) {
        const int ci = k / khw, rem = k - ci * khw;
        chan = ci * n * hw;
        kyv = rem / kw;
        kxv = rem - kyv * kw;
    }
    int img = p0 / (ho * wo), r = p0 - img * (ho * wo);
    int oy = r / wo, ox = r - oy * wo;
    __global float *dst = Bp + ((size_t)j * P + p0) * NR + c;
    for (int p = p0; p < p1; p++, dst += NR) {
        const int iy = oy * stride - pad + kyv, ix = ox * stride - pad + kxv;
        *dst = (iy >= 0 && iy < h && ix >= 0 && ix < w) ? X[chan + (i0 + img) * hw + iy * w + ix] : 0.0f;
        if (++ox == wo) {
            ox = 0;
            if (++oy == ho) {
                oy = 0;
                img++;
            }
        }
    }
}
#endif

/* ------------------------------------------------------------------------------------------ */
/* Micro-kernel                                                                               */
/* ------------------------------------------------------------------------------------------ */

/* The register tile: acc[r][v] holds C[row0 + r, col0 + v*VW .. +VW). All loops over r and v are
 * fully unrolled (compile-time trip counts) so that LLVM keeps acc in registers; never index acc
 * with a run-time value. */
#define ACC_DECL VT acc[MR][NV]
#define ACC_ZERO                                                                                                       \
    _Pragma("unroll") for (int r = 0; r < MR; r++) _Pragma("unroll") for (int v = 0; v < NV; v++) acc[r][v] = (VT)(0.0f)

/* One k step: a points at MR floats of the A panel, b at NR floats of the B panel. */
#define KSTEP(a, b)                                                                                                    \
    do {                                                                                                               \
        VT bv_[NV];                                                                                                    \
        _Pragma("unroll") for (int v = 0; v < NV; v++) bv_[v] = VLOAD(v, (b));                                       \
        _Pragma("unroll") for (int r = 0; r < MR; r++)                                                                 \
        {                                                                                                              \
            const VT av_ = (VT)((a)[r]);                                                                               \
            _Pragma("unroll") for (int v = 0; v < NV; v++) acc[r][v] = MAC(av_, bv_[v], acc[r][v]);                    \
        }                                                                                                              \
    } while (0)

/* acc += A panel [kl][MR] * B panel [kl][NR], k ascending (pointers a, b are advanced). */
#define KLOOP(a, b, kl)                                                                                                \
    do {                                                                                                               \
        int k_ = 0;                                                                                                    \
        for (; k_ + KU <= (kl); k_ += KU) {                                                                            \
            _Pragma("unroll") for (int u = 0; u < KU; u++) KSTEP((a) + u * MR, (b) + u * NR);                          \
            (a) += KU * MR;                                                                                            \
            (b) += KU * NR;                                                                                            \
        }                                                                                                              \
        for (; k_ < (kl); k_++) {                                                                                      \
            KSTEP((a), (b));                                                                                           \
            (a) += MR;                                                                                                 \
            (b) += NR;                                                                                                 \
        }                                                                                                              \
    } while (0)

/* Final write of the tile at c (= &C[row0, col0]): C = alpha*acc (+ fma(beta, C, .) if beta != 0),
 * only the mv x nv valid part. Edge tiles go through a private array so that acc is only ever
 * indexed with compile-time constants. */
#define TILE_STORE(c, ldc, mv, nv)                                                                                     \
    do {                                                                                                               \
        __global float *c_ = (c);                                                                                      \
        if ((mv) == MR && (nv) == NR) {                                                                                \
            _Pragma("unroll") for (int r = 0; r < MR; r++)                                                             \
            {                                                                                                          \
                _Pragma("unroll") for (int v = 0; v < NV; v++)                                                         \
                {                                                                                                      \
                    VT o_ = alpha * acc[r][v];                                                                         \
                    if (beta != 0.0f) o_ = MAC((VT)(beta), VLOAD(v, c_), o_);                                          \
                    VSTORE(o_, v, c_);                                                                 \
                }                                                                                                      \
                c_ += (ldc);                                                                                           \
            }                                                                                                          \
        } else {                                                                                                       \
            _Pragma("unroll") for (int r = 0; r < MR; r++)                                                             \
            {                                                                                                          \
                if (r < (mv)) {                                                                                        \
                    float t_[NR];                                                                                      \
                    _Pragma("unroll") for (int v = 0; v < NV; v++) VSTORE(acc[r][v], v, t_);                           \
                    for (int q = 0; q < (nv); q++) {                                                                   \
                        float o_ = alpha * t_[q];                                                                      \
                        if (beta != 0.0f) o_ = MAC(beta, c_[q], o_);                                                   \
                        c_[q] = o_;                                                                                    \
                    }                                                                                                  \
                }                                                                                                      \
                c_ += (ldc);                                                                                           \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)

/* C = alpha * Ap * Bp + beta * C over packed panels. Local size 1 (or more: extra work-items
 * just take more tiles); global (tiles along the fast dimension, along the slow one): with
 * order == 0 dimension 0 walks the M tiles (the B panel stays in cache while A panels stream),
 * with order == 1 it walks the N tiles. Each work-item does TM consecutive M tiles of one N
 * tile. */
__kernel PER_ITEM void gemm_packed(const int M, const int N, const int K, const float alpha, __global const float *restrict Ap,
                          __global const float *restrict Bp, const float beta, __global float *restrict C,
                          const int c_off, const int ldc, const int order)
{
    const int g0 = get_global_id(0), g1 = get_global_id(1);
    const int mtb = order ? g1 : g0; /* block of TM M tiles */
    const int nt = order ? g0 : g1;
    const int col0 = nt * NR;
    if (mtb * TM * MR >= M || col0 >= N) return;
    const int nv = min(NR, N - col0);
    for (int t = 0; t < TM; t++) {
        const int row0 = (mtb * TM + t) * MR;
        if (row0 >= M) break;
        __global const float *a = Ap + (size_t)row0 * K;
        __global const float *b = Bp + (size_t)col0 * K;
        ACC_DECL;
        ACC_ZERO;
        KLOOP(a, b, K);
        TILE_STORE(C + c_off + (size_t)row0 * ldc + col0, ldc, min(MR, M - row0), nv);
    }
}

#ifdef LANES
/* gemm_packed with the register tile spread over the lanes of a work-group, for compilers that
 * vectorise across work-items (Intel's CPU runtime, GPU compilers; docs/portability.md): local
 * size (VW, 1), one work-group per MR x NR tile (grid as gemm_packed's, dimension 0 times VW).
 * Lane l keeps the scalars acc[r][v] = C[row0 + r, col0 + v*VW + l]: the A value of row r is
 * the same for every lane (one broadcast load), and the lanes' B values are VW consecutive
 * floats of the panel row (one vector load once the compiler maps lanes to vector elements).
 * Each element is the same fma chain over k in order as in gemm_packed: bit-identical results. */
__kernel void gemm_packed_wg(const int M, const int N, const int K, const float alpha,
                             __global const float *restrict Ap, __global const float *restrict Bp, const float beta,
                             __global float *restrict C, const int c_off, const int ldc, const int order)
{
    const int l = get_local_id(0);
    const int g0 = get_group_id(0), g1 = get_group_id(1);
    const int row0 = (order ? g1 : g0) * MR;
    const int col0 = (order ? g0 : g1) * NR;
    if (row0 >= M || col0 >= N) return;
    __global const float *a = Ap + (size_t)row0 * K;
    __global const float *b = Bp + (size_t)col0 * K + l;
    float acc[MR][NV];
#pragma unroll
    for (int r = 0; r < MR; r++)
#pragma unroll
        for (int v = 0; v < NV; v++) acc[r][v] = 0.0f;
    for (int k = 0; k < K; k++, a += MR, b += NR) {
        float bv[NV];
#pragma unroll
        for (int v = 0; v < NV; v++) bv[v] = b[v * VW];
#pragma unroll
        for (int r = 0; r < MR; r++) {
            const float av = a[r];
#pragma unroll
            for (int v = 0; v < NV; v++) acc[r][v] = MAC(av, bv[v], acc[r][v]);
        }
    }
#pragma unroll
    for (int r = 0; r < MR; r++) {
        if (row0 + r >= M) break;
        __global float *c = C + c_off + (size_t)(row0 + r) * ldc + col0 + l;
#pragma unroll
        for (int v = 0; v < NV; v++) {
            if (col0 + v * VW + l < N) {
                float o = alpha * acc[r][v];
                if (beta != 0.0f) o = MAC(beta, c[v * VW], o);
                c[v * VW] = o;
            }
        }
    }
}
#endif

#ifndef NO_FUSED
/* ------------------------------------------------------------------------------------------ */
/* Fused variants: B is packed on the fly, one K block at a time, into __local memory          */
/* ------------------------------------------------------------------------------------------ */
/* A work-group (one work-item) owns an N block of jb panels (jb*NR columns) and an M range of
 * mblk rows (a multiple of MR), walked in sub-blocks of mc rows (a multiple of MR). For each K
 * block of kc values it packs the B block [kc][jb*NR] into Bl (layout [jb][kc][NR],
 * zero-padded), then runs every MR x NR tile of its range over that block. Between K blocks the running sums live in C itself, stored raw and
 * reloaded as the next block's starting accumulators: the fma chain per element is exactly the
 * one of gemm_packed (k = 0 .. K-1 in order), so results are bit-identical to it. Only the last
 * block applies alpha / beta; with K > kc the previous C is overwritten by partial sums, so the
 * host must use beta == 0 in that case (or K <= kc). The packed B never goes to global memory:
 * it is read from the source (row-major B, transposed B, or the activation tensor for an
 * implicit im2col) once per (group, K block) and stays in L1/L2.
 *
 * Local memory: kc * jb * NR floats (host-provided __local argument). */

/* Partial-sum reload: acc = C tile (valid part; the rest 0). */
#define TILE_LOAD_RAW(c, ldc, mv, nv)                                                                                  \
    do {                                                                                                               \
        __global const float *c_ = (c);                                                                                \
        if ((mv) == MR && (nv) == NR) {                                                                                \
            _Pragma("unroll") for (int r = 0; r < MR; r++)                                                             \
            {                                                                                                          \
                _Pragma("unroll") for (int v = 0; v < NV; v++) acc[r][v] = VLOAD(v, c_);                               \
                c_ += (ldc);                                                                                           \
            }                                                                                                          \
        } else {                                                                                                       \
            _Pragma("unroll") for (int r = 0; r < MR; r++)                                                             \
            {                                                                                                          \
                float t_[NR];                                                                                          \
                for (int q = 0; q < NR; q++) t_[q] = (r < (mv) && q < (nv)) ? c_[q] : 0.0f;                            \
                _Pragma("unroll") for (int v = 0; v < NV; v++) acc[r][v] = VLOAD(v, t_);                               \
                c_ += (ldc);                                                                                           \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)

/* Partial-sum store: the valid part of acc, raw. */
#define TILE_STORE_RAW(c, ldc, mv, nv)                                                                                 \
    do {                                                                                                               \
        __global float *c_ = (c);                                                                                      \
        if ((mv) == MR && (nv) == NR) {                                                                                \
            _Pragma("unroll") for (int r = 0; r < MR; r++)                                                             \
            {                                                                                                          \
                _Pragma("unroll") for (int v = 0; v < NV; v++) VSTORE(acc[r][v], v, c_);                               \
                c_ += (ldc);                                                                                           \
            }                                                                                                          \
        } else {                                                                                                       \
            _Pragma("unroll") for (int r = 0; r < MR; r++)                                                             \
            {                                                                                                          \
                if (r < (mv)) {                                                                                        \
                    float t_[NR];                                                                                      \
                    _Pragma("unroll") for (int v = 0; v < NV; v++) VSTORE(acc[r][v], v, t_);                           \
                    for (int q = 0; q < (nv); q++) c_[q] = t_[q];                                                      \
                }                                                                                                      \
                c_ += (ldc);                                                                                           \
            }                                                                                                          \
        }                                                                                                              \
    } while (0)

/* The compute part shared by the fused kernels, after Bl holds the block [k0, k0 + kl). Loop
 * order (BLIS-like): M sub-blocks of mc rows, then the jn panels of the block, then the MR-row
 * tiles of the sub-block. One kl x NR panel slice of Bl stays in L1 while the sub-block's A tiles
 * (mc x kl floats, sized by the host to stay in L2) stream past it. mc = MR gives "each A tile
 * against every panel" (B block re-read from L2 per tile), mc >= the whole M range gives "each
 * panel against all of A". */
#define FUSED_TILE(row0, jj)                                                                                           \
    do {                                                                                                               \
        const int first_ = (k0 == 0), last_ = (k0 + kl == K);                                                          \
        const int mv_ = min(MR, M - (row0));                                                                           \
        const int col0 = n0 + (jj) * NR;                                                                               \
        const int nv_ = min(NR, N - col0);                                                                             \
        __global const float *a = Ap + (size_t)(row0) * K + (size_t)k0 * MR;                                          \
        __local const float *b = Bl + (jj) * kc * NR;                                                                  \
        __global float *ct = C + c_off + (size_t)(row0) * ldc + col0;                                                  \
        ACC_DECL;                                                                                                      \
        if (first_) {                                                                                                  \
            ACC_ZERO;                                                                                                  \
        } else {                                                                                                       \
            TILE_LOAD_RAW(ct, ldc, mv_, nv_);                                                                          \
        }                                                                                                              \
        KLOOP(a, b, kl);                                                                                               \
        if (last_) {                                                                                                   \
            TILE_STORE(ct, ldc, mv_, nv_);                                                                             \
        } else {                                                                                                       \
            TILE_STORE_RAW(ct, ldc, mv_, nv_);                                                                         \
        }                                                                                                              \
    } while (0)
#define FUSED_COMPUTE()                                                                                                \
    for (int mb = m_lo; mb < m_hi; mb += mc)                                                                           \
        for (int jj = 0; jj < jn; jj++)                                                                                \
            for (int row0 = mb; row0 < min(m_hi, mb + mc); row0 += MR) FUSED_TILE(row0, jj)

/* Common prologue: this group's N block and M range. */
#define FUSED_PROLOGUE()                                                                                               \
    const int n0 = get_group_id(0) * jb * NR;                                                                          \
    const int m_lo = get_group_id(1) * mblk;                                                                           \
    if (get_local_id(0) != 0 || n0 >= N || m_lo >= M) return;                                                          \
    const int m_hi = min(M, m_lo + mblk);                                                                              \
    const int jn = min(jb, (N - n0 + NR - 1) / NR) /* panels in this block */

/* op(B) = B (row-major [K, N], ldb) or B^T (B stored [N, K]). */
__kernel PER_ITEM void gemm_fused(const int M, const int N, const int K, const float alpha, __global const float *restrict Ap,
                         __global const float *restrict B, const int b_off, const int ldb, const int btrans,
                         const float beta, __global float *restrict C, const int c_off, const int ldc, const int jb,
                         const int kc, const int mblk, const int mc, __local float *restrict Bl)
{
    FUSED_PROLOGUE();
    __global const float *bs = B + b_off;
    for (int k0 = 0; k0 < K; k0 += kc) {
        const int kl = min(kc, K - k0);
        for (int jj = 0; jj < jn; jj++) {
            const int c0 = n0 + jj * NR, nvb = min(NR, N - c0);
            __local float *d = Bl + jj * kc * NR;
            if (!btrans) {
                __global const float *src = bs + (size_t)k0 * ldb + c0;
                if (nvb == NR) {
                    for (int k = 0; k < kl; k++, src += ldb, d += NR)
                        _Pragma("unroll") for (int v = 0; v < NV; v++) VSTORE(VLOAD(v, src), v, d);
                } else {
                    for (int k = 0; k < kl; k++, src += ldb, d += NR)
                        for (int q = 0; q < NR; q++) d[q] = q < nvb ? src[q] : 0.0f;
                }
            } else {
                /* NR rows of the stored B, contiguous along k */
                __global const float *src = bs + (size_t)c0 * ldb + k0;
                for (int q = 0; q < NR; q++) {
                    __local float *dq = d + q;
                    if (q < nvb) {
                        __global const float *s = src + (size_t)q * ldb;
                        for (int k = 0; k < kl; k++, dq += NR) *dq = s[k];
                    } else {
                        for (int k = 0; k < kl; k++, dq += NR) *dq = 0.0f;
                    }
                }
            }
        }
#ifdef PREFETCH
        /* -DPREFETCH (PoCL only: rusticl's SPIR-V path rejects llvm.prefetch): touch the next K
         * block's source lines now, so that they arrive while this block is computed. */
        {
            const int kn = k0 + kc, kln = min(kc, K - kn);
            if (kln > 0) {
                if (!btrans) {
                    for (int k = 0; k < kln; k++)
                        for (int x = 0; x < jn * NR; x += 16)
                            __builtin_prefetch(bs + (size_t)(kn + k) * ldb + n0 + x, 0, 2);
                } else {
                    for (int q = 0; q < min(jn * NR, N - n0); q++)
                        for (int x = 0; x < kln; x += 16) __builtin_prefetch(bs + (size_t)(n0 + q) * ldb + kn + x, 0, 2);
                }
            }
        }
#endif
        FUSED_COMPUTE();
    }
}

/* Implicit im2col, forward: op(B) = cols [Kc, P] of images i0.. of X[Cin, n, h, w] (see
 * pack_b_im2col); K = Kc, N = P. */
__kernel PER_ITEM void gemm_fused_im2col(const int M, const int N, const int K, const float alpha,
                                __global const float *restrict Ap, __global const float *restrict X, const int n,
                                const int h, const int w, const int kh, const int kw, const int stride, const int pad,
                                const int ho, const int wo, const int i0, const float beta, __global float *restrict C,
                                const int c_off, const int ldc, const int jb, const int kc, const int mblk,
                                const int mc, __local float *restrict Bl)
{
    FUSED_PROLOGUE();
    const int hw = h * w, khw = kh * kw;
    const size_t cstride = (size_t)n * hw;
    for (int k0 = 0; k0 < K; k0 += kc) {
        const int kl = min(kc, K - k0);
        for (int jj = 0; jj < jn; jj++) {
            __local float *d = Bl + jj * kc * NR;
            IM2COL_COLS(n0 + jj * NR, N); /* once per panel and K block */
            int ci = k0 / khw, rem = k0 - ci * khw;
            int ky = rem / kw, kx = rem - ky * kw;
            for (int k = 0; k < kl; k++, d += NR) {
                __global const float *xc = X + (size_t)ci * cstride;
                IM2COL_ROW(d, xc);
                if (++kx == kw) {
                    kx = 0;
                    if (++ky == kh) {
                        ky = 0;
                        ci++;
                    }
                }
            }
        }
        FUSED_COMPUTE();
    }
}

/* Implicit im2col, transposed (weight gradient): op(B) = cols^T [P, Kc]; K = P, N = Kc (see
 * pack_bt_im2col). */
__kernel PER_ITEM void gemm_fused_im2col_t(const int M, const int N, const int K, const float alpha,
                                  __global const float *restrict Ap, __global const float *restrict X, const int n,
                                  const int h, const int w, const int kh, const int kw, const int stride,
                                  const int pad, const int ho, const int wo, const int i0, const float beta,
                                  __global float *restrict C, const int c_off, const int ldc, const int jb,
                                  const int kc, const int mblk, const int mc, __local float *restrict Bl)
{
    FUSED_PROLOGUE();
    const int hw = h * w, khw = kh * kw;
    for (int k0 = 0; k0 < K; k0 += kc) {
        const int kl = min(kc, K - k0);
        for (int jj = 0; jj < jn; jj++) {
            __local float *d = Bl + jj * kc * NR;
            int chan[NR], kyv[NR], kxv[NR];
            for (int q = 0; q < NR; q++) {
                const int kk = n0 + jj * NR + q;
                if (kk < N) {
                    const int ci = kk / khw, rem = kk - ci * khw;
                    chan[q] = ci * n * hw;
                    kyv[q] = rem / kw;
                    kxv[q] = rem - kyv[q] * kw;
                } else {
                    chan[q] = 0;
                    kyv[q] = -(1 << 30);
                    kxv[q] = 0;
                }
            }
            /* runs of positions along one output row: per column q the
             * row of X is found once and the run walks along it */
            int img = k0 / (ho * wo), r = k0 - img * (ho * wo);
            int oy = r / wo, ox = r - oy * wo;
            for (int p = 0; p < kl;) {
                const int run = min(wo - ox, kl - p);
                const int iyb = oy * stride - pad, ixb = ox * stride - pad;
                const int ib = (i0 + img) * hw;
                for (int q = 0; q < NR; q++) {
                    const int iy = iyb + kyv[q];
                    __local float *dq = d + p * NR + q;
                    if (iy < 0 || iy >= h) {
                        for (int t = 0; t < run; t++) dq[t * NR] = 0.0f;
                    } else {
                        __global const float *xr = X + chan[q] + ib + iy * w;
                        for (int t = 0, ix = ixb + kxv[q]; t < run; t++, ix += stride)
                            dq[t * NR] = (ix >= 0 && ix < w) ? xr[ix] : 0.0f;
                    }
                }
                p += run;
                ox += run;
                if (ox == wo) {
                    ox = 0;
                    if (++oy == ho) {
                        oy = 0;
                        img++;
                    }
                }
            }
        }
        FUSED_COMPUTE();
    }
}
#endif /* NO_FUSED */
