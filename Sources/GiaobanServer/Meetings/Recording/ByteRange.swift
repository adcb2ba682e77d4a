import Foundation

/// What a request's `Range` header asks of a file of a known size (RFC 9110 §14.1.2, §14.2):
/// one byte range in the `bytes` unit, `a-b`, `a-` or `-n` (the last n bytes).
///
/// Anything else is ignored, as §14.2 allows, and the whole file is served: another unit, a
/// malformed header, several ranges (a player seeks with one). A range that starts at or past
/// the end, a suffix of 0 bytes, or any range of an empty file cannot be satisfied (416).
enum ByteRange: Equatable {
    /// No usable Range: the whole file, 200.
    case whole
    /// These bytes (inclusive, within the file), 206.
    case part(ClosedRange<Int>)
    /// 416, with `Content-Range: bytes */size`.
    case unsatisfiable

    /// What `header` asks of a file of `size` bytes.
    static func resolve(_ header: String?, size: Int) -> ByteRange {
        guard let header else { return .whole }
        let value = header.trimmingCharacters(in: .whitespaces)
        guard value.lowercased().hasPrefix("bytes="), !value.contains(",") else { return .whole }
        let spec = value.dropFirst("bytes=".count).trimmingCharacters(in: .whitespaces)
        guard let dash = spec.firstIndex(of: "-") else { return .whole }
        let (first, last) = (spec[..<dash], spec[spec.index(after: dash)...])
        if first.isEmpty {
            guard let suffix = number(last) else { return .whole }
            guard suffix > 0, size > 0 else { return .unsatisfiable }
            return .part(max(0, size - suffix)...(size - 1))
        }
        guard let start = number(first) else { return .whole }
        let end: Int
        if last.isEmpty {
            end = size - 1
        } else {
            guard let given = number(last), given >= start else { return .whole }
            end = min(given, size - 1)
        }
        return start < size ? .part(start...end) : .unsatisfiable
    }

    /// ASCII digits only (no sign, no spaces), nil when too large for an Int.
    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return Int(text)
    }
}
