/// Parsing of SDP text (RFC 8866 §5 and §9): one `<type>=<value>` per line.
///
/// Rules enforced: line 1 is `v=0`, line 2 `o=`, line 3 `s=` (§5: "in the order below");
/// every other line has a known lowercase type letter and a place at the session or media
/// level; `i=`, `u=`, `c=`, `z=`, `k=` occur at most once per level; `r=` follows a `t=`;
/// `m=` lines are well formed; known WebRTC attributes have well-formed values (see
/// `SDPAttribute.validate()`). CRLF and bare LF both end a line; empty lines at the end
/// are ignored, elsewhere they are an error. CR (other than before LF) and NUL are errors.
/// Every error is `WireError(.syntax, "SDP", line: n)` with the 1-based line number.
extension SessionDescription {
    /// Parses SDP text with CRLF or LF line endings.
    public init(parsing text: String) throws(WireError) {
        var lines: [Substring] = []
        for line in text.utf8.split(separator: 0x0A, omittingEmptySubsequences: false) {
            lines.append(Substring(line))
        }
        try self.init(lines: lines)
    }

    /// Parses SDP from raw bytes (an HTTP body, a fuzz input); a line that is not valid
    /// UTF-8 is a syntax error at that line. The bytes are copied; the buffer may go away after.
    public init(parsing bytes: UnsafeRawBufferPointer) throws(WireError) {
        var lines: [Substring] = []
        var start = 0
        while true {
            var end = start
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            let chunk = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
            guard let line = String(validating: chunk, as: UTF8.self) else {
                throw WireError(.syntax, "SDP", line: lines.count + 1)
            }
            lines.append(line[...])
            guard end < bytes.count else { break }
            start = end + 1
        }
        try self.init(lines: lines)
    }

    /// Parses lines that have been split at LF (a trailing CR is still present).
    init(lines rawLines: [Substring]) throws(WireError) {
        var lines = rawLines.map { line -> Substring in
            line.utf8.last == 0x0D ? line[..<line.utf8.index(before: line.utf8.endIndex)] : line
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        var state = ParseState()
        for (i, line) in lines.enumerated() {
            do throws(WireError) {
                try state.take(line, number: i + 1)
            } catch {
                throw WireError(error.reason, error.context, line: i + 1)
            }
        }
        guard let origin = state.origin, let name = state.sessionName else {
            throw WireError(.syntax, "SDP", line: lines.count + 1)
        }
        if let section = state.section { state.media.append(section) }
        version = 0
        self.origin = origin
        sessionName = name
        information = state.information
        uri = state.uri
        emails = state.emails
        phones = state.phones
        connection = state.connection
        bandwidths = state.bandwidths
        timings = state.timings
        timeZones = state.timeZones
        encryptionKey = state.encryptionKey
        attributes = state.attributes
        media = state.media
    }
}

/// The parser's state while it reads lines in order.
private struct ParseState {
    var origin: SDPOrigin?
    var sessionName: String?
    var information: String?
    var uri: String?
    var emails: [String] = []
    var phones: [String] = []
    var connection: SDPConnection?
    var bandwidths: [SDPBandwidth] = []
    var timings: [SDPTiming] = []
    var timeZones: String?
    var encryptionKey: String?
    var attributes: [SDPAttribute] = []
    var media: [MediaDescription] = []
    /// The media section being read, after its `m=` line.
    var section: MediaDescription?

    /// Reads line `number` (1-based); throws `SDPText.error` when it breaks a rule.
    mutating func take(_ line: Substring, number: Int) throws(WireError) {
        let u = line.utf8
        guard u.count >= 2, let type = u.first, type >= 0x61, type <= 0x7A,
              u[u.index(after: u.startIndex)] == 0x3D, SDPText.isLineSafe(line)
        else { throw SDPText.error }
        let value = line[u.index(u.startIndex, offsetBy: 2)...]
        switch (number, type) {
        case (1, 0x76):  // v=
            guard value.utf8.elementsEqual("0".utf8) else { throw SDPText.error }
        case (1, _), (_, 0x76):
            throw SDPText.error
        case (2, 0x6F):  // o=
            origin = try SDPOrigin(parsing: value)
        case (2, _), (_, 0x6F):
            throw SDPText.error
        case (3, 0x73):  // s=
            sessionName = String(value)
        case (3, _), (_, 0x73):
            throw SDPText.error
        default:
            if section != nil || type == 0x6D {
                try takeMedia(type, value)
            } else {
                try takeSession(type, value)
            }
        }
    }

    /// A line at the session level (RFC 8866 §5, before the first `m=`).
    private mutating func takeSession(_ type: UInt8, _ value: Substring) throws(WireError) {
        switch type {
        case 0x69: try setOnce(&information, String(value))  // i=
        case 0x75: try setOnce(&uri, String(value))  // u=
        case 0x65: emails.append(String(value))  // e=
        case 0x70: phones.append(String(value))  // p=
        case 0x63: try setOnce(&connection, try SDPConnection(parsing: value))  // c=
        case 0x62: bandwidths.append(try SDPBandwidth(parsing: value))  // b=
        case 0x74: timings.append(try SDPTiming(parsing: value))  // t=
        case 0x72:  // r=
            guard !timings.isEmpty else { throw SDPText.error }
            timings[timings.count - 1].repeats.append(String(value))
        case 0x7A: try setOnce(&timeZones, String(value))  // z=
        case 0x6B: try setOnce(&encryptionKey, String(value))  // k=
        case 0x61: attributes.append(try SDPAttribute(parsingLine: value))  // a=
        default: throw SDPText.error
        }
    }

    /// A line in a media section (RFC 8866 §5.14): `m=` starts one; `i=`, `c=`, `b=`,
    /// `k=` and `a=` belong to it.
    private mutating func takeMedia(_ type: UInt8, _ value: Substring) throws(WireError) {
        if type == 0x6D {  // m=
            if let section { media.append(section) }
            section = try MediaDescription(parsingMediaLine: value)
            return
        }
        guard var current = section else { throw SDPText.error }
        section = nil  // keep `current` uniquely referenced while it is changed
        switch type {
        case 0x69: try setOnce(&current.information, String(value))  // i=
        case 0x63: current.connections.append(try SDPConnection(parsing: value))  // c=
        case 0x62: current.bandwidths.append(try SDPBandwidth(parsing: value))  // b=
        case 0x6B: try setOnce(&current.encryptionKey, String(value))  // k=
        case 0x61: current.attributes.append(try SDPAttribute(parsingLine: value))  // a=
        default: throw SDPText.error
        }
        section = current
    }
}

/// Sets a field that may occur once per level; throws when it is already set.
private func setOnce<T>(_ field: inout T?, _ value: T) throws(WireError) {
    guard field == nil else { throw SDPText.error }
    field = value
}

extension SDPAttribute {
    /// Parses the text after `a=`: a token name, then optionally `:` and the verbatim value;
    /// the value of a known WebRTC attribute is checked with `validate()`.
    public init(parsingLine text: Substring) throws(WireError) {
        if let parts = SDPText.cut(text, at: 0x3A) {
            self.init(try SDPText.token(parts.before), String(parts.after))
        } else {
            self.init(try SDPText.token(text), nil)
        }
        try validate()
    }
}
