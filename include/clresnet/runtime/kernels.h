/* The embedded kernel sources (the cl/ kernel files), generated at build time. */
#ifndef CLRESNET_KERNELS_H
#define CLRESNET_KERNELS_H

typedef struct crn_cl_source {
    const char *name;   /* file name, e.g. "conv.cl" */
    const char *text;
} crn_cl_source;

/* Built by the runtime at start-up with the device's options. */
extern const crn_cl_source crn_cl_sources[];
extern const int crn_cl_source_count;

/* Built by their op, with options it chooses (crn_build_program's extra). */
extern const crn_cl_source crn_cl_op_sources[];
extern const int crn_cl_op_source_count;

/* The op source called name ("gemm_packed.cl"), or NULL. */
const crn_cl_source *crn_cl_op_source(const char *name);

#endif
