/*
 * The checks that need a slot's effective settings, run once a policy has
 * loaded without errors: combinations that cannot work (a token due before
 * it is made, a grace that outlives the replacement, a window closed longer
 * than the time left to rotate) and the token names Mode would refuse.
 */
#ifndef TW_CROSSCHECK_H
#define TW_CROSSCHECK_H

#include "policies/loader.h"
#include "policies/policy.h"

/* Reports every problem of p's slots to ld. */
void crosscheck_policy(struct loader *ld, const struct policy *p);

#endif
