/// The header fields of an RTSP message (RFC 2326 §12, RFC 7826 §18) in their order;
/// names are matched case-insensitively, as RFC 7826 §5.2 requires.
public struct RTSPHeaders: Sendable, Equatable {
    /// The fields as received: name as written, value with surrounding whitespace removed.
    public private(set) var fields: [(name: String, value: String)]

    /// Creates headers from fields in order.
    public init(_ fields: [(name: String, value: String)] = []) {
        self.fields = fields
    }

    /// Appends a field.
    public mutating func append(_ name: String, _ value: String) {
        fields.append((name, value))
    }

    /// The value of the first field called `name` (case-insensitive).
    public subscript(name: String) -> String? {
        fields.first { RTSPHeaders.sameName($0.name, name) }?.value
    }

    /// The values of every field called `name`, in order (e.g. several `WWW-Authenticate`).
    public func values(_ name: String) -> [String] {
        fields.filter { RTSPHeaders.sameName($0.name, name) }.map(\.value)
    }

    /// The `CSeq` field as a number (RFC 2326 §12.17), nil when absent or not a number.
    public var cseq: Int? { self["CSeq"].flatMap { Int($0) } }

    /// True when two field names are the same, ignoring ASCII case.
    static func sameName(_ a: String, _ b: String) -> Bool {
        a.utf8.count == b.utf8.count
            && zip(a.utf8, b.utf8).allSatisfy { RTSPText.lower($0) == RTSPText.lower($1) }
    }

    /// Equal when the same fields, names as written, come in the same order.
    public static func == (lhs: RTSPHeaders, rhs: RTSPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

/// Small text helpers shared by the RTSP parsers: ASCII case folding, trimming, splitting
/// outside quoted strings.
enum RTSPText {
    /// The ASCII lowercase of a byte.
    @inline(__always)
    static func lower(_ byte: UInt8) -> UInt8 { byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte }

    /// `text` without leading and trailing spaces and tabs.
    static func trimmed(_ text: Substring) -> Substring {
        var t = text
        while let c = t.utf8.first, c == 0x20 || c == 0x09 { t = t.dropFirst() }
        while let c = t.utf8.last, c == 0x20 || c == 0x09 { t = t.dropLast() }
        return t
    }

    /// True when `text` equals `other` ignoring ASCII case.
    static func equalsIgnoringCase(_ text: Substring, _ other: String) -> Bool {
        text.utf8.count == other.utf8.count && zip(text.utf8, other.utf8).allSatisfy { lower($0) == lower($1) }
    }

    /// True when `text` starts with `prefix` ignoring ASCII case.
    static func hasPrefixIgnoringCase(_ text: Substring, _ prefix: String) -> Bool {
        text.utf8.count >= prefix.utf8.count
            && zip(text.utf8, prefix.utf8).allSatisfy { lower($0) == lower($1) }
    }

    /// Splits `text` at `separator` bytes that are not inside a double-quoted string
    /// (backslash escapes honoured), trimming each piece; empty pieces are dropped.
    static func splitOutsideQuotes(_ text: Substring, on separator: UInt8) -> [Substring] {
        var pieces: [Substring] = []
        var inQuotes = false, escaped = false
        var start = text.startIndex
        var i = text.startIndex
        while i < text.endIndex {
            let c = text.utf8[i]
            if escaped {
                escaped = false
            } else if inQuotes && c == 0x5C {
                escaped = true
            } else if c == 0x22 {
                inQuotes.toggle()
            } else if !inQuotes && c == separator {
                let piece = trimmed(text[start..<i])
                if !piece.isEmpty { pieces.append(piece) }
                start = text.utf8.index(after: i)
            }
            i = text.utf8.index(after: i)
        }
        let piece = trimmed(text[start...])
        if !piece.isEmpty { pieces.append(piece) }
        return pieces
    }

    /// Splits `name=value` at the first `=`; the value is nil when there is none.
    static func parameter(_ item: Substring) -> (name: Substring, value: Substring?) {
        guard let eq = item.utf8.firstIndex(of: 0x3D) else { return (trimmed(item), nil) }
        return (trimmed(item[..<eq]), trimmed(item[item.utf8.index(after: eq)...]))
    }

    /// A decimal number with no sign, at most nine digits; nil otherwise.
    static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.utf8.count <= 9, text.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        return Int(text)
    }
}
