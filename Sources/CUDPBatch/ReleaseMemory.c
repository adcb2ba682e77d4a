#include "CUDPBatch.h"
#if defined(__GLIBC__)
#include <malloc.h>
#endif

// The media thread frees many peers at once (a flood of sessions timing out); glibc keeps
// the freed pages of its arenas mapped, so the process's resident size stays at its peak.
int giaoban_release_free_memory(void) {
#if defined(__GLIBC__)
    return malloc_trim(0);
#else
    return 0;
#endif
}
