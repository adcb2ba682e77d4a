import Foundation
import GiaobanHub

extension Character {
    fileprivate var isASCIIDigit: Bool { isASCII && isNumber }
}

/// The recording files of one meeting's directory as the API lists them: each `.webm` file,
/// described by the manifest once finished, by the recorder while it is being written.
enum RecordingListing {
    /// One file.
    struct Entry: Encodable {
        /// Its name in the meeting's directory.
        let name: String
        /// The participant recorded (from the file name when neither the manifest nor the
        /// recorder knows it: a file left by a server stopped mid-meeting).
        let participant: String
        /// Its size on disk now.
        let size: Int
        /// Its SHA-256 as the manifest holds it; null until the file is finished.
        let sha256: Nullable<String>
        /// Unix ms of its first and last recorded packet (the manifest's); null until finished.
        let started_ms: Nullable<Int64>
        /// See `started_ms`.
        let ended_ms: Nullable<Int64>
        /// Whether the recorder is writing it now.
        let in_progress: Bool
    }

    /// Whether `name` may name a recording: 1–128 of letters, digits, `-` and `_`, then
    /// `.webm` (the recorder's names). Nothing else reaches the file system: no `/`, no `..`,
    /// no hidden file, not the manifest.
    static func isFileName(_ name: String) -> Bool {
        guard name.hasSuffix(".webm") else { return false }
        let stem = name.utf8.dropLast(5)
        return (1...128).contains(stem.count) && stem.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || byte == 0x2D || byte == 0x5F
        }
    }

    /// The files of `directory` (none when it does not exist), sorted by name; `open` maps the
    /// names the recorder is writing to their participants.
    static func files(in directory: String, open: [String: String]) -> [Entry] {
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter(isFileName).sorted()
        let manifest = ((try? RecordingManifest.read(from: directory)) ?? nil)?.files ?? []
        let finished = Dictionary(manifest.map { ($0.name, $0) }, uniquingKeysWith: { _, last in last })
        return names.compactMap { name -> Entry? in
            var info = stat()
            guard lstat(directory + "/" + name, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
            let size = Int(info.st_size)
            if let file = finished[name] {
                return Entry(name: name, participant: file.participant, size: size, sha256: Nullable(file.sha256),
                             started_ms: Nullable(file.started_ms), ended_ms: Nullable(file.ended_ms), in_progress: false)
            }
            return Entry(name: name, participant: open[name] ?? participant(fromName: name), size: size, sha256: Nullable(nil),
                         started_ms: Nullable(nil), ended_ms: Nullable(nil), in_progress: open[name] != nil)
        }
    }

    /// `xa-01-1796000000000.webm` (or `…-1796000000000-2.webm`) → `xa-01`: the name without
    /// the recorder's Unix-ms time and attempt suffix.
    static func participant(fromName name: String) -> String {
        var parts = name.dropLast(5).split(separator: "-", omittingEmptySubsequences: false)
        func isTime(_ part: Substring) -> Bool { part.count >= 10 && part.allSatisfy(\.isASCIIDigit) }
        if parts.count > 2, parts.last?.allSatisfy(\.isASCIIDigit) == true, isTime(parts[parts.count - 2]) { parts.removeLast() }
        if parts.count > 1, let last = parts.last, isTime(last) { parts.removeLast() }
        return parts.joined(separator: "-")
    }
}
