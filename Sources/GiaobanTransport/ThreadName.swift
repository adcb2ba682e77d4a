import CUDPBatch

/// The operating system's name of the calling thread, as `top -H`, `ps -L` and
/// /proc/<pid>/task/<tid>/comm show it (Foundation's `Thread.name` does not set it on Linux).
public enum ThreadName {
    /// Names the calling thread `name` (the kernel keeps its first 15 bytes).
    public static func set(_ name: String) { giaoban_set_thread_name(name) }
}
