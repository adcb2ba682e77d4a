/// Parses one RTSP message from the front of a byte buffer (RFC 2326 §6–§7, RFC 7826 §5,
/// §8): start line, header fields up to an empty line (CRLF, or bare LF as RFC 7826 §5.1
/// tolerates), then a `Content-Length` body. Obsolete line folding (a line starting with a
/// space or tab) continues the previous field.
///
/// Errors, each a `WireError`:
/// - `.syntax` "RTSP start line": the first bytes are not a status line or a request line
///   (checked as soon as the first word is complete, so garbage is rejected early);
/// - `.badVersion` "RTSP start line": a version other than `RTSP/1.0`;
/// - `.badValue` "RTSP status line": a status code outside 100–599;
/// - `.badLength` "RTSP head": no empty line within `RTSPLimits.maxHeadBytes`;
/// - `.syntax` "RTSP header field": a field without a name or a colon, or not UTF-8;
/// - `.badLength` "RTSP Content-Length": not a number, or over `RTSPLimits.maxBodyBytes`.
enum RTSPMessageParser {
    /// The message at the front of `bytes` and how many bytes it took, or nil when incomplete.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws(WireError) -> (RTSPStreamItem, Int)? {
        try checkFirstWord(bytes)
        guard let headEnd = endOfHead(bytes) else {
            if bytes.count >= RTSPLimits.maxHeadBytes { throw WireError(.badLength, "RTSP head") }
            return nil
        }
        guard headEnd.count <= RTSPLimits.maxHeadBytes else { throw WireError(.badLength, "RTSP head") }
        guard let head = String(validating: UnsafeRawBufferPointer(rebasing: bytes[0..<headEnd.lines]), as: UTF8.self)
        else { throw WireError(.syntax, "RTSP header field") }
        var lines = head.utf8.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            Substring(line.last == 0x0D ? line.dropLast() : line)
        }
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let startLine = lines.first else { throw WireError(.syntax, "RTSP start line") }
        let headers = try fields(lines.dropFirst())

        var bodyLength = 0
        if let text = headers["Content-Length"] {
            guard let n = RTSPText.number(text[...]), n <= RTSPLimits.maxBodyBytes else {
                throw WireError(.badLength, "RTSP Content-Length")
            }
            bodyLength = n
        }
        guard bytes.count >= headEnd.count + bodyLength else { return nil }
        let body = Array(bytes[headEnd.count..<(headEnd.count + bodyLength)])
        let item = try message(startLine: startLine, headers: headers, body: body)
        return (item, headEnd.count + bodyLength)
    }

    /// Rejects a buffer whose first word (up to a space) cannot start an RTSP message: a
    /// method token of letters, digits, `-` and `_`, or `RTSP/`.
    private static func checkFirstWord(_ bytes: UnsafeRawBufferPointer) throws(WireError) {
        for (i, c) in bytes.enumerated() {
            if c == 0x20 {
                guard i > 0 else { throw WireError(.syntax, "RTSP start line") }
                return
            }
            let isToken = (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39)
                || c == 0x2D || c == 0x5F || c == 0x2F || c == 0x2E
            guard isToken, i < 64 else { throw WireError(.syntax, "RTSP start line") }
        }
    }

    /// Where the head ends: `lines` is the length up to and including the last header line's
    /// LF, `count` includes the empty line; nil when no empty line has arrived yet.
    private static func endOfHead(_ bytes: UnsafeRawBufferPointer) -> (lines: Int, count: Int)? {
        let limit = min(bytes.count, RTSPLimits.maxHeadBytes + 2)
        var i = 0
        while i < limit {
            if bytes[i] == 0x0A {
                if i + 1 < bytes.count, bytes[i + 1] == 0x0A { return (i + 1, i + 2) }
                if i + 2 < bytes.count, bytes[i + 1] == 0x0D, bytes[i + 2] == 0x0A { return (i + 1, i + 3) }
            }
            i += 1
        }
        return nil
    }

    /// The header fields of the lines after the start line.
    private static func fields(_ lines: ArraySlice<Substring>) throws(WireError) -> RTSPHeaders {
        var headers = RTSPHeaders()
        var pending: (name: String, value: String)?
        for line in lines {
            if let c = line.utf8.first, c == 0x20 || c == 0x09 {
                guard pending != nil else { throw WireError(.syntax, "RTSP header field") }
                pending!.value += " " + RTSPText.trimmed(line)
                continue
            }
            if let field = pending { headers.append(field.name, field.value) }
            guard let colon = line.utf8.firstIndex(of: 0x3A) else { throw WireError(.syntax, "RTSP header field") }
            let name = line[..<colon]
            guard !name.isEmpty, name.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw WireError(.syntax, "RTSP header field")
            }
            pending = (String(name), String(RTSPText.trimmed(line[line.utf8.index(after: colon)...])))
        }
        if let field = pending { headers.append(field.name, field.value) }
        return headers
    }

    /// A response for `RTSP/1.0 <code> <reason>`, a server request for `<METHOD> <uri> RTSP/1.0`.
    private static func message(startLine: Substring, headers: RTSPHeaders, body: [UInt8]) throws(WireError)
        -> RTSPStreamItem
    {
        let words = startLine.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        if RTSPText.hasPrefixIgnoringCase(startLine, "RTSP/") {
            guard words[0] == "RTSP/1.0" else { throw WireError(.badVersion, "RTSP start line") }
            guard words.count >= 2, words[1].utf8.count == 3, let code = RTSPText.number(words[1]) else {
                throw WireError(.syntax, "RTSP start line")
            }
            guard (100...599).contains(code) else { throw WireError(.badValue, "RTSP status line") }
            let reason = words.count == 3 ? String(words[2]) : ""
            return .response(RTSPResponse(statusCode: code, reason: reason, headers: headers, body: body))
        }
        guard words.count == 3, !words[1].isEmpty else { throw WireError(.syntax, "RTSP start line") }
        guard words[2] == "RTSP/1.0" else { throw WireError(.badVersion, "RTSP start line") }
        return .request(RTSPServerRequest(method: String(words[0]), uri: String(words[1]), headers: headers, body: body))
    }
}
