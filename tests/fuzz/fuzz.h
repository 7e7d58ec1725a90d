/*
 * The entry point every fuzz target defines (libFuzzer's), and that
 * replay.c calls on each corpus file when libFuzzer is not linked.
 */
#ifndef TW_FUZZ_H
#define TW_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Runs one input of size bytes; returns 0 (libFuzzer reserves other values). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
