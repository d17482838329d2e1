/* The embedded kernel sources (the cl/ kernel files), generated at build time. */
#ifndef CLRESNET_KERNELS_H
#define CLRESNET_KERNELS_H

typedef struct crn_cl_source {
    const char *name;   /* file name, e.g. "conv.cl" */
    const char *text;
} crn_cl_source;

extern const crn_cl_source crn_cl_sources[];
extern const int crn_cl_source_count;

#endif
