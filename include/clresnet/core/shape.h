/* Tensor shapes as arrays of dimensions. */
#ifndef CLRESNET_CORE_SHAPE_H
#define CLRESNET_CORE_SHAPE_H

#include <stddef.h>

/* The number of elements of a shape: the product of its dimensions (1 for
 * rank 0). */
static inline size_t crn_shape_numel(const size_t *shape, int ndim)
{
    size_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    return n;
}

#endif
