/* PER_ITEM marks a kernel whose work-items each own a register tile or an
 * explicit vector (floatN, per-item loops) and that is launched with
 * work-groups of one item or of independent items: vectorising across the
 * work-items of a group gains nothing there. A compiler that would do it
 * (Intel's CPU runtime scalarises explicit vectors and re-vectorises across
 * work-items: "Benefitting From Implicit Vectorization", Intel's OpenCL
 * optimisation guide) is told not to through cl_intel_vec_len_hint; the
 * packed GEMM's fused kernels ran 1.4x faster for it (docs/portability.md).
 * Other compilers see nothing. */
#ifdef cl_intel_vec_len_hint
#define PER_ITEM __attribute__((intel_vec_len_hint(1)))
#else
#define PER_ITEM
#endif
