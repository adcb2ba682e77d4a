/// Terminals of the SDP grammar (RFC 8866 §9) shared by the line and attribute parsers.
///
/// Parsers of single attribute values throw `SDPText.error` (line 0); the session parser
/// re-throws it with the 1-based line number of the offending line.
enum SDPText {
    /// The error every SDP parser throws.
    static var error: WireError { WireError(.syntax, "SDP") }

    /// `value` with leading and trailing spaces and tabs removed.
    static func trimmed(_ value: Substring) -> Substring {
        let u = value.utf8
        var start = u.startIndex
        var end = u.endIndex
        while start < end, u[start] == 0x20 || u[start] == 0x09 { start = u.index(after: start) }
        while end > start {
            let before = u.index(before: end)
            guard u[before] == 0x20 || u[before] == 0x09 else { break }
            end = before
        }
        return value[start..<end]
    }

    /// The trimmed value of a value attribute; throws for a property attribute (no colon).
    static func required(_ value: String?) throws(WireError) -> Substring {
        guard let value else { throw error }
        return trimmed(value[...])
    }

    /// The index of the first ASCII `byte` in `text`, searching its UTF-8 bytes (so a
    /// combining mark after the byte does not hide it).
    static func index(of byte: UInt8, in text: Substring) -> String.Index? {
        text.utf8.firstIndex(of: byte)
    }

    /// `text` cut at every ASCII `byte`; empty pieces are kept unless `omittingEmpty`.
    static func split(_ text: Substring, on byte: UInt8, omittingEmpty: Bool = false) -> [Substring] {
        var pieces: [Substring] = []
        var start = text.startIndex
        let u = text.utf8
        var i = u.startIndex
        while i < u.endIndex {
            if u[i] == byte {
                if !omittingEmpty || start < i { pieces.append(text[start..<i]) }
                start = u.index(after: i)
            }
            i = u.index(after: i)
        }
        if !omittingEmpty || start < text.endIndex { pieces.append(text[start..<text.endIndex]) }
        return pieces
    }

    /// Space-separated fields; runs of spaces count as one separator.
    static func fields(_ text: Substring) -> [Substring] {
        split(text, on: 0x20, omittingEmpty: true)
    }

    /// The first space-separated field and the trimmed rest (empty when there is none).
    static func head(_ text: Substring) -> (first: Substring, rest: Substring) {
        let t = trimmed(text)
        guard let space = index(of: 0x20, in: t) else { return (t, t[t.endIndex...]) }
        return (t[..<space], trimmed(t[t.utf8.index(after: space)...]))
    }

    /// The text before and after the first ASCII `byte`, or nil when `byte` is absent.
    static func cut(_ text: Substring, at byte: UInt8) -> (before: Substring, after: Substring)? {
        guard let i = index(of: byte, in: text) else { return nil }
        return (text[..<i], text[text.utf8.index(after: i)...])
    }

    /// A decimal number of type `T`: one or more ASCII digits, no sign, no overflow.
    static func number<T: FixedWidthInteger & UnsignedInteger>(
        _ text: Substring, as _: T.Type = T.self
    ) throws(WireError) -> T {
        guard !text.isEmpty else { throw error }
        var result: T = 0
        for byte in text.utf8 {
            guard byte >= 0x30, byte <= 0x39 else { throw error }
            let (shifted, o1) = result.multipliedReportingOverflow(by: 10)
            let (sum, o2) = shifted.addingReportingOverflow(T(byte &- 0x30))
            guard !o1, !o2 else { throw error }
            result = sum
        }
        return result
    }

    /// An RTP payload type, 0–127 (RFC 3550 §5.1).
    static func payloadType(_ text: Substring) throws(WireError) -> UInt8 {
        let value: UInt8 = try number(text)
        guard value <= 127 else { throw error }
        return value
    }

    /// True for RFC 8866 `token-char`: visible ASCII except the separators `"(),/:;<=>?@[\]`.
    static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case 0x21, 0x23...0x27, 0x2A...0x2B, 0x2D...0x2E, 0x30...0x39, 0x41...0x5A, 0x5E...0x7E: true
        default: false
        }
    }

    /// True when `text` is a non-empty RFC 8866 `token`.
    static func isToken(_ text: Substring) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(isTokenByte)
    }

    /// `text` as a token; throws when it is empty or holds a separator or space.
    static func token(_ text: Substring) throws(WireError) -> String {
        guard isToken(text) else { throw error }
        return String(text)
    }

    /// True when `text` is non-empty and holds no space, tab, CR, LF or NUL.
    static func isWord(_ text: Substring) -> Bool {
        !text.isEmpty && !text.utf8.contains { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D || $0 == 0x0A || $0 == 0 }
    }

    /// `text` as a word (see `isWord`); throws otherwise.
    static func word(_ text: Substring) throws(WireError) -> String {
        guard isWord(text) else { throw error }
        return String(text)
    }

    /// True when `text` can be written after `x=` on one line: no CR, LF or NUL.
    static func isLineSafe(_ text: some StringProtocol) -> Bool {
        !text.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0 }
    }
}
