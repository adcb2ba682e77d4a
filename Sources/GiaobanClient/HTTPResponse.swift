/// An HTTP/1.1 response (RFC 9112): status, headers in order, and the body with any
/// chunked transfer coding removed.
public struct HTTPResponse: Sendable {
    /// The status code, e.g. 201.
    public var status: Int
    /// The reason phrase, e.g. "Created".
    public var reason: String
    /// The header fields in order, names as sent.
    public var headers: [(name: String, value: String)]
    /// The body bytes.
    public var body: [UInt8]

    /// The value of the first header named `name` (case-insensitive, RFC 9110 §5.1).
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.name.lowercased() == wanted }?.value
    }

    /// The body as UTF-8 text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    /// Parses a response from the bytes read so far. Returns nil while incomplete; with
    /// `atEOF` (the server closed the connection), a body without a length ends there.
    /// Throws `.http` for a malformed status line, header or chunk size.
    public static func parse(_ raw: [UInt8], atEOF: Bool = false) throws(ClientError) -> HTTPResponse? {
        guard let headerEnd = find([13, 10, 13, 10], in: raw, from: 0) else {
            if atEOF { throw ClientError(.http, "the connection closed before the response headers ended") }
            return nil
        }
        let head = String(decoding: raw[0..<headerEnd], as: UTF8.self)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
        guard statusLine.count >= 2, statusLine[0].hasPrefix("HTTP/1."), let status = Int(statusLine[1]), (100...599).contains(status) else {
            throw ClientError(.http, "malformed status line")
        }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw ClientError(.http, "malformed header line") }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingSpaces()))
        }
        var response = HTTPResponse(status: status, reason: statusLine.count > 2 ? String(statusLine[2]) : "", headers: headers, body: [])
        let bodyStart = headerEnd + 4
        if response.header("Transfer-Encoding")?.lowercased().contains("chunked") == true {
            guard let body = try dechunk(raw, from: bodyStart) else {
                if atEOF { throw ClientError(.http, "the connection closed inside a chunked body") }
                return nil
            }
            response.body = body
        } else if let lengthText = response.header("Content-Length") {
            guard let length = Int(lengthText), length >= 0 else { throw ClientError(.http, "malformed Content-Length") }
            guard raw.count - bodyStart >= length else {
                if atEOF { throw ClientError(.http, "the connection closed before the body ended") }
                return nil
            }
            response.body = Array(raw[bodyStart..<(bodyStart + length)])
        } else if status == 204 || status == 304 || (100..<200).contains(status) {
            response.body = []
        } else {
            guard atEOF else { return nil }
            response.body = Array(raw[bodyStart...])
        }
        return response
    }

    /// Removes the chunked coding (RFC 9112 §7.1); nil while the last chunk has not arrived.
    static func dechunk(_ raw: [UInt8], from start: Int) throws(ClientError) -> [UInt8]? {
        var body: [UInt8] = []
        var i = start
        while true {
            guard let lineEnd = find([13, 10], in: raw, from: i) else { return nil }
            let sizeText = String(decoding: raw[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingSpaces(), radix: 16), size >= 0 else {
                throw ClientError(.http, "malformed chunk size")
            }
            guard size <= HTTPClient.maxResponseBytes else {
                throw ClientError(.http, "a chunk of \(size) bytes is larger than any answer the relay sends")
            }
            i = lineEnd + 2
            if size == 0 { return find([13, 10], in: raw, from: i) == nil ? nil : body }  // trailers are ignored
            guard raw.count >= i + size + 2 else { return nil }
            body += raw[i..<(i + size)]
            i += size + 2
        }
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        for i in start...(haystack.count - needle.count) where haystack[i] == needle[0] {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
        }
        return nil
    }
}

extension Substring {
    func trimmingSpaces() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
