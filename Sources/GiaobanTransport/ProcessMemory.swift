internal import CUDPBatch

/// The process's heap, as the socket loops see it.
public enum ProcessMemory {
    /// Gives the pages glibc keeps after many objects were freed back to the kernel
    /// (`malloc_trim(0)`); true when some memory was released (never where the C library has
    /// no such call). It walks every arena: call it off the media thread.
    @discardableResult
    public static func releaseFree() -> Bool { giaoban_release_free_memory() != 0 }
}
