/* The one random number generator: splitmix64 over a keyed counter. A
 * stream is named by (seed, epoch, index, purpose), so what a sample or a
 * tensor draws depends neither on thread count nor on what was drawn
 * before it: a resumed run draws exactly what an uninterrupted one would. */
#ifndef CLRESNET_CORE_RNG_H
#define CLRESNET_CORE_RNG_H

#include <stdint.h>

typedef struct crn_rng {
    uint64_t state;
} crn_rng;

/* Purposes: one stream family per use. */
#define CRN_RNG_SHUFFLE 0x73687566666C65ULL /* "shuffle": the epoch's sample order */
#define CRN_RNG_AUGMENT 0x6175676D656E74ULL /* "augment": a sample's transform parameters */
#define CRN_RNG_INIT 0x696E6974ULL          /* "init": a parameter tensor's initial values */

/* The stream of (seed, epoch, index, purpose): independent for each tuple. */
void crn_rng_init(crn_rng *r, uint64_t seed, uint64_t epoch, uint64_t index, uint64_t purpose);
uint64_t crn_rng_next(crn_rng *r);
double crn_rng_uniform(crn_rng *r);          /* [0, 1) with 53 bits */
int crn_rng_int(crn_rng *r, int lo, int hi); /* uniform in lo..hi inclusive (unbiased) */
/* Uniform in 0..span-1 for span >= 1 (unbiased). */
uint64_t crn_rng_below(crn_rng *r, uint64_t span);

#endif
