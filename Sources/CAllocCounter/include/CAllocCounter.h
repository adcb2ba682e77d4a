// Counts heap allocations made by the calling thread, for tests and benchmarks that
// assert "no allocation per packet". Linking this target replaces malloc and friends
// with thin wrappers around glibc's own implementations.
#ifndef GIAOBAN_ALLOC_COUNTER_H
#define GIAOBAN_ALLOC_COUNTER_H
#include <stdint.h>

/// Allocations (malloc, calloc, realloc, memalign family) made by this thread so far.
uint64_t giaoban_thread_allocations(void);

/// Nonzero when the interposed allocator is active in this process.
int giaoban_alloc_counter_active(void);

#endif
