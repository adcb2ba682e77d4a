#if canImport(Glibc)
internal import Glibc
#else
internal import Darwin
#endif

/// Why a file could not be read: the path and the system's reason.
struct FileReadError: Error, CustomStringConvertible {
    let path: String
    let reason: String
    var description: String { reason }
}

/// Reads a whole UTF-8 text file.
func readTextFile(_ path: String) throws(FileReadError) -> String {
    guard let f = fopen(path, "rb") else { throw FileReadError(path: path, reason: String(cString: strerror(errno))) }
    defer { fclose(f) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = fread(&chunk, 1, chunk.count, f)
        if n > 0 { bytes.append(contentsOf: chunk[0..<n]) }
        if n < chunk.count { break }
    }
    guard ferror(f) == 0 else { throw FileReadError(path: path, reason: "read error") }
    return String(decoding: bytes, as: UTF8.self)
}
