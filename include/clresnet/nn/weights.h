/* Model weights as safetensors with PyTorch's state-dict names
 * (the modules of tools/seed_torch.py): float32 parameters and running
 * statistics, num_batches_tracked as a 0-dimensional I64. A file saved here
 * loads into the PyTorch model with load_state_dict(strict=True), and a
 * PyTorch state dict saved with safetensors loads here (--init FILE). */
#ifndef CLRESNET_WEIGHTS_H
#define CLRESNET_WEIGHTS_H

#include "clresnet/nn/model.h"
#include "clresnet/io/safetensors.h"

/* Adds every tensor of the state dict, in PyTorch's order, to a writer
 * (prefix: prepended to every name, e.g. "model." in a checkpoint; NULL or
 * "" for none), with metadata "model", "act", "final_act", "width",
 * "classes" only when prefix is empty. */
int crn_weights_add(crn_model *m, crn_st_writer *w, const char *prefix, crn_error *err);

/* Writes the state dict to path (atomically). */
int crn_weights_save(crn_model *m, const char *path, crn_error *err);

/* Loads the state dict from an open file: every tensor of the model must be
 * there (under prefix) with the same shape; float tensors as F32 or F64,
 * num_batches_tracked as I64 or I32. Any tensor missing, mis-shaped, of the
 * wrong type, or (with an empty prefix) any extra tensor in the file is an
 * error naming it; nothing is changed on error. With a prefix, names
 * outside it are ignored; without one, "optim.*" tensors (a checkpoint's
 * optimiser state) are. */
int crn_weights_load_file(crn_model *m, const crn_st_file *f, const char *prefix, crn_error *err);

/* What crn_weights_load_init did: tensors loaded of the model's, and
 * whether the classifier was left out (the file's has another class count:
 * fine-tuning ImageNet weights on 102 flowers). */
typedef struct crn_init_info {
    int loaded, total;
    bool head_replaced;
    int file_classes;                  /* the file's class count, when replaced */
    char head_weight[96], head_bias[96]; /* the classifier's tensors, kept as initialised */
} crn_init_info;

/* crn_weights_load_file with no prefix, except that a classifier (the
 * model's last linear layer) whose class count differs in the file keeps the
 * model's own values (initialise the model first); every other tensor is
 * checked as strictly. */
int crn_weights_load_init(crn_model *m, const crn_st_file *f, crn_init_info *info, crn_error *err);

/* Opens path and loads it with no prefix (--init FILE). */
int crn_weights_load(crn_model *m, const char *path, crn_error *err);

#endif
