/* Shared by tests/nn/test_onnx.c and tests/nn/onnx_reference.c (the helper of
 * tests/make_fixtures_onnx.py): the models of the onnxruntime fixture and a
 * fingerprint of an exported graph. */
#ifndef CLRESNET_TEST_ONNX_SUPPORT_H
#define CLRESNET_TEST_ONNX_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

#include "clresnet/nn/model.h"

/* The model of a case of tests/fixtures/onnx_logits.safetensors
 * (resnet50_relu, _leaky, _silu, _nofinal, plain50_relu, baseline_relu,
 * baseline_silu; width 1/16, 10 classes, 64 px), made here and nowhere else, bit for bit the same on
 * every device: crn_model_init's weights (seed 1000 + the case's index),
 * then every BatchNorm's weight, bias, running mean and variance drawn from
 * the same counter-based generator (scale 0.5..1.5, shift +-0.2, mean
 * +-0.1, variance 0.5..1.5), so that folding or not folding BN matters. */
int onnx_fixture_model(crn_ops *ops, const char *name, int max_batch, crn_model **out, crn_error *err);

/* FNV-1a 64 of the GraphProto of a serialised ModelProto, packed again by
 * protobuf-c (nodes, attributes, initializers with their data, inputs and
 * outputs; not the model's metadata or version). 0 when buf does not parse. */
uint64_t onnx_graph_hash(const uint8_t *buf, size_t len);

#endif
