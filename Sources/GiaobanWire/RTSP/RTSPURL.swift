/// An `rtsp://` URL (RFC 2326 §3.2, RFC 7826 §4.2): `rtsp://[user[:password]@]host[:port][/path]`.
///
/// Credentials in the URL are taken apart so that they are never sent in a request line nor
/// logged: `string` is the URL without them.
public struct RTSPURL: Sendable, Equatable {
    /// The host name or address; an IPv6 literal without its brackets.
    public var host: String
    /// The TCP port; 554 when the URL names none.
    public var port: UInt16
    /// The path with its query, starting with `/` (just `/` when absent).
    public var path: String
    /// The user name from the URL, percent-decoded, when present.
    public var user: String?
    /// The password from the URL, percent-decoded, when present.
    public var password: String?

    /// The default RTSP port (RFC 2326 §3.2).
    public static let defaultPort: UInt16 = 554

    /// Parses an `rtsp://` URL (scheme case-insensitive). Throws `.syntax` "RTSP URL" for
    /// another scheme, an empty host, a bad port, or spaces and control characters.
    public init(parsing text: String) throws(WireError) {
        let error = WireError(.syntax, "RTSP URL")
        let t = text[...]
        guard RTSPText.hasPrefixIgnoringCase(t, "rtsp://"), text.utf8.allSatisfy({ $0 > 0x20 && $0 != 0x7F }) else {
            throw error
        }
        let rest = t.dropFirst(7)
        let slash = rest.utf8.firstIndex(of: 0x2F) ?? rest.endIndex
        var authority = rest[..<slash]
        path = slash == rest.endIndex ? "/" : String(rest[slash...])
        user = nil
        password = nil
        if let at = authority.utf8.lastIndex(of: 0x40) {
            let info = authority[..<at]
            authority = authority[authority.utf8.index(after: at)...]
            if let colon = info.utf8.firstIndex(of: 0x3A) {
                user = Self.percentDecoded(info[..<colon])
                password = Self.percentDecoded(info[info.utf8.index(after: colon)...])
            } else {
                user = Self.percentDecoded(info)
            }
        }
        var portText: Substring?
        if authority.utf8.first == 0x5B {  // [IPv6]
            guard let close = authority.utf8.firstIndex(of: 0x5D) else { throw error }
            host = String(authority[authority.utf8.index(after: authority.startIndex)..<close])
            let after = authority[authority.utf8.index(after: close)...]
            if !after.isEmpty {
                guard after.utf8.first == 0x3A else { throw error }
                portText = after.dropFirst()
            }
        } else if let colon = authority.utf8.firstIndex(of: 0x3A) {
            host = String(authority[..<colon])
            portText = authority[authority.utf8.index(after: colon)...]
        } else {
            host = String(authority)
        }
        guard !host.isEmpty else { throw error }
        if let portText {
            guard let n = RTSPText.number(portText), n > 0, n <= 65535 else { throw error }
            port = UInt16(n)
        } else {
            port = Self.defaultPort
        }
    }

    /// The URL without credentials, as sent in requests and written to logs.
    public var string: String {
        let h = host.utf8.contains(0x3A) ? "[\(host)]" : host
        return port == Self.defaultPort ? "rtsp://\(h)\(path)" : "rtsp://\(h):\(port)\(path)"
    }

    /// `text` with `%XX` escapes decoded (invalid escapes are kept as they are).
    static func percentDecoded(_ text: Substring) -> String {
        var out: [UInt8] = []
        let bytes = Array(text.utf8)
        var i = 0
        while i < bytes.count {
            if bytes[i] == 0x25, i + 2 < bytes.count, let v = UInt8(String(decoding: bytes[i + 1...i + 2], as: UTF8.self), radix: 16) {
                out.append(v)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
