public import Foundation
import GiaobanCrypto

/// A meeting's `manifest.json` (docs/recording.md, "Integrity"): every finished file with its
/// size and SHA-256, the meeting, its participants and times, signed with HMAC-SHA256 (RFC 2104)
/// under the server's token secret. Rewritten whole (to a temporary file, then renamed) each
/// time a file is finished.
public struct RecordingManifest: Codable, Sendable, Equatable {
    /// One finished recording file.
    public struct File: Codable, Sendable, Equatable {
        /// The file's name in the meeting's directory.
        public var name: String
        /// The participant recorded.
        public var participant: String
        /// Its size in bytes.
        public var size: Int
        /// Its SHA-256, 64 lowercase hex digits.
        public var sha256: String
        /// Unix ms of its first and last recorded packet.
        public var started_ms: Int64
        /// See `started_ms`.
        public var ended_ms: Int64
    }

    /// The meeting's id.
    public var meeting: Int64
    /// Everyone recorded, sorted.
    public var participants: [String] = []
    /// Unix ms the recording started (its first session) and last stopped.
    public var started_ms: Int64
    /// See `started_ms`.
    public var ended_ms: Int64
    /// The finished files, in the order they finished.
    public var files: [File] = []

    /// The manifest's file name.
    public static let fileName = "manifest.json"

    /// The bytes the signature covers: the manifest as JSON with sorted keys.
    func signedBytes() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(self)) ?? Data())
    }

    /// The signature under `secret`, as hex.
    func signature(secret: [UInt8]) -> String {
        HMACSHA256.authenticationCode(key: secret, message: signedBytes()).map { String(format: "%02x", $0) }.joined()
    }

    /// The file's content: `{"manifest": …, "hmac_sha256": "…"}`.
    struct Signed: Codable {
        var manifest: RecordingManifest
        var hmac_sha256: String
    }

    /// Writes `directory/manifest.json`, signed under `secret`, replacing the old one atomically.
    func write(to directory: String, secret: [UInt8]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let data = try encoder.encode(Signed(manifest: self, hmac_sha256: signature(secret: secret)))
        let temporary = directory + "/." + Self.fileName + ".tmp"
        try data.write(to: URL(fileURLWithPath: temporary))
        // On disk before it replaces the old one, and the rename itself too (a power loss
        // leaves the old manifest or the new one, never a torn one).
        let file = try FileHandle(forWritingTo: URL(fileURLWithPath: temporary))
        try file.synchronize()
        try file.close()
        guard rename(temporary, directory + "/" + Self.fileName) == 0 else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: directory + "/" + Self.fileName])
        }
        let folder = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if folder >= 0 {
            _ = fsync(folder)
            _ = close(folder)
        }
    }

    /// The manifest in `directory`, nil when there is none yet (its signature is not checked).
    static func read(from directory: String) throws -> RecordingManifest? {
        let path = directory + "/" + fileName
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try JSONDecoder().decode(Signed.self, from: Data(contentsOf: URL(fileURLWithPath: path))).manifest
    }

    /// The size and SHA-256 (hex) of the file at `path`.
    static func digest(path: String) throws -> (size: Int, sha256: String) {
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        return (bytes.count, SHA256Digest.hex(bytes))
    }

    /// Checks `directory` against its manifest under `secret`: the signature, then every file's
    /// size and SHA-256. Returns the problems, one line each, naming the file; none when it holds.
    /// The meeting id of the manifest in `directory`, or nil when it cannot be read.
    public static func meeting(inDirectory directory: String) -> Int64? { (try? read(from: directory))??.meeting }

    /// What differs between the manifest in `directory` and the database's rows of its files
    /// (`recording_files`): a file missing on either side, or another size or SHA-256. Empty
    /// when they agree.
    public static func compare(directory: String, rows: [(name: String, size: Int64, sha256: String)]) -> [String] {
        guard let manifest = (try? read(from: directory)) ?? nil else { return ["\(directory): cannot read the manifest"] }
        var problems: [String] = []
        let stored = Dictionary(rows.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for file in manifest.files {
            guard let row = stored[file.name] else { problems.append("\(file.name): in the manifest, not in the database"); continue }
            if row.size != Int64(file.size) || row.sha256 != file.sha256 {
                problems.append("\(file.name): the database has \(row.size) bytes, SHA-256 \(row.sha256); the manifest \(file.size) bytes, \(file.sha256)")
            }
        }
        let listed = Set(manifest.files.map(\.name))
        for row in rows where !listed.contains(row.name) { problems.append("\(row.name): in the database, not in the manifest") }
        return problems
    }

    public static func verify(directory: String, secret: [UInt8]) -> [String] {
        let path = directory + "/" + fileName
        let signed: Signed
        do { signed = try JSONDecoder().decode(Signed.self, from: Data(contentsOf: URL(fileURLWithPath: path))) } catch {
            return ["\(path): cannot read the manifest: \(error.localizedDescription)"]
        }
        var problems: [String] = []
        if signed.manifest.signature(secret: secret) != signed.hmac_sha256 {
            problems.append("\(path): the signature does not match (the manifest was changed, or another secret signed it)")
        }
        for file in signed.manifest.files {
            guard !file.name.contains("/"), let actual = try? digest(path: directory + "/" + file.name) else {
                problems.append("\(file.name): missing or unreadable")
                continue
            }
            if actual.size != file.size {
                problems.append("\(file.name): \(actual.size) bytes, the manifest says \(file.size)")
            } else if actual.sha256 != file.sha256 {
                problems.append("\(file.name): SHA-256 \(actual.sha256), the manifest says \(file.sha256)")
            }
        }
        return problems
    }
}
