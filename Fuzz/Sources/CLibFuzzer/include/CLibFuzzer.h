#ifndef SSE_RELAY_FUZZ_CLIBFUZZER_H
#define SSE_RELAY_FUZZ_CLIBFUZZER_H

#include <stddef.h>
#include <stdint.h>

/// libFuzzer's entry point for programs that have their own `main` (compiler-rt's
/// FuzzerInterface.h). SwiftPM gives every executable target a `main` of its own on Linux, so
/// the fuzz targets start libFuzzer through this instead of through libFuzzer's `main`.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*userCallback)(const uint8_t *data, size_t size));

#endif
