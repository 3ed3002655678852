// SwiftPM builds a C target only from at least one source file; the declaration in
// include/CLibFuzzer.h is all this target provides. libFuzzer itself is linked by
// `-sanitize=fuzzer`.
#include "CLibFuzzer.h"
