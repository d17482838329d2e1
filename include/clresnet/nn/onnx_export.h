/* ONNX export of a model's inference graph (`clresnet export --onnx`),
 * written with protobuf-c from the onnx.proto of the ONNX project (C
 * generated at build time by protoc-c; no hand-written encoder).
 *
 * The graph, op for op as the model's layers in evaluation mode, in
 * standard NCHW (the engine's [C, N, H, W] is a memory layout only):
 *   input "input" float [batch, 3, S, S] (batch symbolic: any batch size),
 *   Conv (no bias; kernel, stride, pads as the layer),
 *   BatchNormalization (eps 1e-5, the running statistics; kept as a node,
 *     not folded, so the initializers are the checkpoint's tensors),
 *   Relu | LeakyRelu(alpha 0.01) | Sigmoid + Mul (SiLU),
 *   MaxPool (floor mode, explicit pads), Add (the residual),
 *   GlobalAveragePool, Flatten, Gemm (transB: PyTorch's [out, in] weight),
 *   output "logits" float [batch, classes], and with softmax also
 *   "probabilities" = Softmax(logits, axis 1).
 * Initializers carry the state dict's PyTorch names (e.g.
 * "block1.0.block.1.running_var"); num_batches_tracked is left out.
 * Opset CRN_ONNX_OPSET of the default domain, IR version CRN_ONNX_IR_VERSION. */
#ifndef CLRESNET_NN_ONNX_EXPORT_H
#define CLRESNET_NN_ONNX_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clresnet/nn/model.h"

enum {
    CRN_ONNX_OPSET = 17,      /* onnx 1.12 (Debian's onnx.proto) and every onnxruntime since 1.12 */
    CRN_ONNX_IR_VERSION = 8,  /* the IR version of opset 17 */
};

#define CRN_ONNX_INPUT "input"
#define CRN_ONNX_LOGITS "logits"
#define CRN_ONNX_PROBABILITIES "probabilities"
#define CRN_ONNX_BATCH_DIM "batch"

/* One metadata_props entry of the model (both strings copied). */
typedef struct crn_onnx_prop {
    const char *key;
    const char *value;
} crn_onnx_prop;

typedef struct crn_onnx_options {
    bool softmax;                  /* also output "probabilities" */
    const char *producer_version;  /* ModelProto.producer_version; NULL: none */
    const char *doc;               /* ModelProto.doc_string; NULL: none */
    const crn_onnx_prop *props;    /* metadata_props, in this order */
    int nprops;
} crn_onnx_options;

/* The serialised ModelProto of m (weights read from the device) in a new
 * malloc'd buffer of *len bytes. opt may be NULL (no softmax, no metadata). */
int crn_onnx_export_bytes(crn_model *m, const crn_onnx_options *opt, uint8_t **out, size_t *len, crn_error *err);

/* The same written to path (atomically). */
int crn_onnx_export(crn_model *m, const crn_onnx_options *opt, const char *path, crn_error *err);

#endif
