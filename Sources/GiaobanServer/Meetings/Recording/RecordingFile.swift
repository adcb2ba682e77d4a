import Foundation
import GiaobanRecording

/// A recording's file on disk for `WebMWriter`: created new (mode 0600, never overwriting),
/// appended with `write(2)` and patched with `pwrite(2)`. Written only from the recorder thread.
final class RecordingFile: WebMOutput {
    /// The file's path.
    let path: String
    private var descriptor: Int32

    /// Creates `path`; fails if it exists or cannot be created.
    init(path: String) throws(RecordingError) {
        self.path = path
        descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw RecordingError(.output, "cannot create \(path): \(String(cString: strerror(errno)))") }
    }

    /// Writes to `descriptor`, already open, as the file `path` (it is closed with the file).
    init(path: String, descriptor: Int32) {
        self.path = path
        self.descriptor = descriptor
    }

    deinit { close() }

    /// Appends `bytes`, all of them.
    func write(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Foundation.write(descriptor, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw RecordingError(.output, "cannot write \(path): \(String(cString: strerror(errno)))") }
            done += n
        }
    }

    /// Overwrites `bytes` at `offset`.
    func patch(_ bytes: [UInt8], at offset: Int) throws {
        let n = bytes.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, off_t(offset)) }
        guard n == bytes.count else { throw RecordingError(.output, "cannot update \(path): \(String(cString: strerror(errno)))") }
    }

    /// Syncs the file to disk (a finished recording survives a power loss) and closes it (once).
    func close() {
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        _ = Foundation.close(descriptor)
        descriptor = -1
    }
}
