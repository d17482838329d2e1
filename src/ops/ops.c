#include "clresnet/ops/ops.h"

#include <clblast_c.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "clresnet/runtime/tensor.h"
#include "ops_impl.h"

/* Every kernel the ops launch: its name in cl/ and where its handle lives. */
static const crn_kernel_slot KERNELS[] = {
#define K(field, name) {name, offsetof(crn_ops, field)}
    K(ew.fill, "fill_f32"),
    K(ew.axpby, "axpby_f32"),
    K(ew.add, "add_f32"),
    K(ew.nchw_to_cnhw, "nchw_to_cnhw"),
    K(conv.im2col, "conv_im2col"),
    K(conv.col2im, "conv_col2im"),
    K(conv.scatter_1x1, "conv_scatter_1x1"),
    K(conv.bias_add, "conv_bias_add"),
    K(conv.row_sum, "conv_row_sum"),
    K(conv.weight_flip, "conv_weight_flip"),
    K(bn.partial_moments, "bn_partial_moments"),
    K(bn.mean0, "bn_mean0"),
    K(bn.finalize, "bn_finalize"),
    K(bn.normalize, "bn_normalize"),
    K(bn.forward_eval, "bn_forward_eval"),
    K(bn.partial_grad, "bn_partial_grad"),
    K(bn.finalize_grad, "bn_finalize_grad"),
    K(bn.backward_dx, "bn_backward_dx"),
    K(act.forward, "act_forward"),
    K(act.backward, "act_backward"),
    K(pool.max_forward, "maxpool_forward"),
    K(pool.max2x2_forward, "maxpool2x2_forward"),
    K(pool.max_backward, "maxpool_backward"),
    K(pool.max2x2_backward, "maxpool2x2_backward"),
    K(pool.gap_forward, "avgpool_global_forward"),
    K(pool.gap_backward, "avgpool_global_backward"),
    K(loss.softmax_xent, "softmax_xent"),
    K(gemm_k.splitk_reduce, "splitk_reduce"),
#undef K
};

int crn_ops_create(crn_runtime *rt, crn_ops **out, crn_error *err)
{
    return crn_ops_create_opts(rt, NULL, out, err);
}

int crn_ops_create_opts(crn_runtime *rt, const crn_ops_options *opt, crn_ops **out, crn_error *err)
{
    static const crn_ops_options none = {0};
    if (!opt) opt = &none;
    *out = NULL;
    crn_ops *ops = calloc(1, sizeof *ops);
    if (!ops) return crn_fail(err, CRN_ENOMEM, "out of host memory");
    ops->rt = rt;
    ops->dev = crn_runtime_device(rt);
    ops->gemm.fma_slow = -1; /* measured when a plan is chosen (crn_gemm_fma_slow) */
    int rc = crn_kernels_find(rt, KERNELS, sizeof KERNELS / sizeof KERNELS[0], ops, err);
    if (rc == CRN_OK) rc = crn_batchnorm_choose_layout(ops, opt->bn_layout, err);
    if (rc == CRN_OK) rc = crn_gemm_tune_apply_cached(ops, err);
    if (rc == CRN_OK) rc = crn_gemm_choose_plan(ops, opt->gemm, err);
    if (rc != CRN_OK) {
        crn_ops_destroy(ops);
        return rc;
    }
    *out = ops;
    return CRN_OK;
}

void crn_ops_destroy(crn_ops *ops)
{
    if (!ops) return;
    free(ops->gemm.log);
    crn_pgemm_release(&ops->gemm.pg);
    if (ops->gemm.splitk_buf) clReleaseMemObject(ops->gemm.splitk_buf);
    if (ops->bn.part) clReleaseMemObject(ops->bn.part);
    if (ops->conv.wflip) clReleaseMemObject(ops->conv.wflip);
    /* CLBlast keeps the programs it built (for this context) in a process-wide
     * cache that otherwise lets them go in a C++ destructor at exit, after the
     * OpenCL implementation may have torn itself down (oclgrind aborted there).
     * Released here, while the context is alive; the next GEMM rebuilds. */
    crn_finish(ops->rt, NULL);
    CLBlastClearCache();
    free(ops);
}

int crn_ops_buffer(crn_ops *ops, cl_mem *buf, size_t *have, size_t bytes, crn_error *err)
{
    if (*buf && *have >= bytes) return CRN_OK;
    /* released buffers live on until the kernels queued on them finish */
    if (*buf) clReleaseMemObject(*buf);
    *buf = NULL;
    *have = 0;
    int rc = crn_buffer_alloc(ops->rt, buf, bytes, err);
    if (rc == CRN_OK) *have = bytes;
    return rc;
}

crn_runtime *crn_ops_runtime(const crn_ops *ops) { return ops->rt; }
const char *crn_ops_gemm_desc(const crn_ops *ops) { return ops->gemm.desc; }
