/* An image folder: ROOT/{train,val,test}/CLASS/NAME.jpg (also .jpeg and .png, any case).
 * Classes are the sorted union of the class folder names of all splits
 * (byte order); files within a class are sorted by name. Every split must
 * exist and hold at least one image. */
#ifndef CLRESNET_IMAGEFOLDER_H
#define CLRESNET_IMAGEFOLDER_H

#include "clresnet/data/dataset.h"
#include "clresnet/core/error.h"

int crn_imagefolder_open(crn_dataset *ds, const char *root, crn_error *err);

#endif
