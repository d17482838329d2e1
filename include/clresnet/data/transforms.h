/* Image transforms matching torchvision on PIL images, in 8-bit RGB:
 * Resize (shorter side, PIL's antialiased bilinear with its fixed-point
 * rounding), CenterCrop, RandomCrop, RandomHorizontalFlip, RandomRotation
 * (nearest, fill 0), RandomGrayscale, ColorJitter (PIL ImageEnhance
 * semantics), then ToTensor + Normalize into float CHW.
 * Randomness comes from a counter-based generator keyed by
 * (seed, epoch, sample index), so it does not depend on thread count or on
 * resuming. */
#ifndef CLRESNET_TRANSFORMS_H
#define CLRESNET_TRANSFORMS_H

#include <stddef.h>
#include <stdint.h>

#include "clresnet/core/error.h"
#include "clresnet/core/rng.h"
#include "clresnet/data/image.h"

/* A permutation of 0..n-1 from (seed, epoch) (Fisher-Yates). */
void crn_shuffle_indices(size_t *idx, size_t n, uint64_t seed, uint64_t epoch);

/* ---- configuration ---- */
typedef struct crn_transform_config {
    int image_size;          /* S: the crop (default 224) */
    int resize;              /* R: the shorter side after resize; 0 means round(S*256/224) */
    int augment;             /* 1: training augmentation; 0: resize + center crop */
    double hflip_p;          /* 0.5 */
    double rotation_deg;     /* 15: angle uniform in [-deg, deg] */
    double grayscale_p;      /* 0.1 */
    double brightness;       /* 0.2: factor uniform in [max(0, 1-b), 1+b] */
    double contrast;         /* 0.2 */
    double saturation;       /* 0.2 */
    float mean[3], std[3];   /* ImageNet */
    int dct_scaling;         /* 1: let libjpeg decode at a reduced scale when it still covers R */
} crn_transform_config;

void crn_transform_config_default(crn_transform_config *c);
/* R for the config (resize, or round(S*256/224)). */
int crn_transform_resize_target(const crn_transform_config *c);
/* Checks every value; the error names the bad field. */
int crn_transform_config_check(const crn_transform_config *c, crn_error *err);

/* torchvision's output size for Resize(R) of a w x h image: the shorter
 * side becomes R, the longer int(R * long / short). */
void crn_resize_dims(int w, int h, int r, int *ow, int *oh);

/* ---- single transforms (8-bit RGB) ---- */
/* PIL Image.resize(BILINEAR) (antialiased). tmp is a reusable scratch image. */
int crn_resize_bilinear(const crn_image *in, int ow, int oh, crn_image *out, crn_image *tmp, crn_error *err);
/* Crop a s x s window at (top, left); pixels outside the image are 0. */
int crn_crop(const crn_image *in, int top, int left, int s, crn_image *out, crn_error *err);
/* torchvision CenterCrop offsets: int(round((h - s) / 2.0)) (round half to even). */
void crn_center_crop_offsets(int w, int h, int s, int *top, int *left);
void crn_hflip(crn_image *im);
/* PIL Image.rotate(angle, NEAREST, expand=False, fillcolor=0): counter-clockwise degrees. */
int crn_rotate_nearest(const crn_image *in, double angle_deg, crn_image *out, crn_error *err);
/* PIL convert("L") then back to RGB: L = (R*19595 + G*38470 + B*7471 + 0x8000) >> 16. */
void crn_grayscale(crn_image *im);
/* PIL ImageEnhance: Brightness / Contrast / Color(saturation) with factor f. */
void crn_adjust_brightness(crn_image *im, float f);
void crn_adjust_contrast(crn_image *im, float f);
void crn_adjust_saturation(crn_image *im, float f);
/* ToTensor + Normalize: writes 3 planes of w*h floats (CHW) at out. */
void crn_to_tensor_normalize(const crn_image *im, const float mean[3], const float std[3], float *out);

/* ---- the whole pipeline for one sample ---- */
typedef struct crn_transform_scratch {
    crn_image decoded, a, b, tmp;
    uint8_t *file_buf;
    size_t file_cap;
} crn_transform_scratch;

void crn_transform_scratch_free(crn_transform_scratch *s);

/* Decodes PATH and applies the configured pipeline, writing 3*S*S floats
 * (CHW) to out. The random stream is keyed by (seed, epoch, index). */
int crn_transform_file(const crn_transform_config *c, const char *path, uint64_t seed, uint64_t epoch,
                       uint64_t index, crn_transform_scratch *s, float *out, crn_error *err);

/* The same on an already decoded image (copied, not changed). */
int crn_transform_image(const crn_transform_config *c, const crn_image *img, uint64_t seed, uint64_t epoch,
                        uint64_t index, crn_transform_scratch *s, float *out, crn_error *err);

/* A training sample's random augmentation, drawn apart from the pixel work
 * (so that its distribution can be tested over many samples): the ranges of
 * torchvision's RandomCrop, RandomHorizontalFlip, RandomRotation,
 * RandomGrayscale and ColorJitter. */
typedef struct crn_augment_params {
    int top, left;      /* RandomCrop: uniform in 0..h-S and 0..w-S */
    int hflip;          /* 1 with probability hflip_p */
    double angle;       /* degrees, uniform in [-rotation_deg, rotation_deg]; 0 without rotation */
    int grayscale;      /* 1 with probability grayscale_p */
    float brightness, contrast, saturation; /* factors uniform in [max(0, 1-a), 1+a]; 1 when a is 0 */
    int order[3];       /* ColorJitter's order: 0 brightness, 1 contrast, 2 saturation; a uniform permutation */
} crn_augment_params;

/* The parameters of sample `index` in `epoch` for a resized image of w x h. */
void crn_augment_sample(const crn_transform_config *c, int w, int h, uint64_t seed, uint64_t epoch, uint64_t index,
                        crn_augment_params *p);

#endif
