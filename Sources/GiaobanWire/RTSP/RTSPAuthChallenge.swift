/// A `WWW-Authenticate` challenge (RFC 2326 §12.44 refers to HTTP's): `Digest` with its
/// parameters (RFC 2617 §3.2.1, RFC 7616 §3.3) or `Basic` (RFC 7617 §2).
public enum RTSPAuthChallenge: Sendable, Equatable {
    /// HTTP Digest access authentication.
    case digest(RTSPDigestChallenge)
    /// Basic authentication with its realm.
    case basic(realm: String)

    /// Parses one challenge. Throws `.syntax` "RTSP WWW-Authenticate" for a malformed value,
    /// `.unsupportedType` for another scheme, and for Digest without `realm` or `nonce`, with
    /// an algorithm other than MD5/SHA-256 (and their `-sess` forms) or a qop list without `auth`.
    public init(parsing text: String) throws(WireError) {
        let value = RTSPText.trimmed(text[...])
        let space = value.utf8.firstIndex(of: 0x20) ?? value.endIndex
        let scheme = value[..<space]
        var params: [(name: Substring, value: String)] = []
        for item in RTSPText.splitOutsideQuotes(value[space...], on: 0x2C) {
            let (name, raw) = RTSPText.parameter(item)
            guard !name.isEmpty, let raw else { throw WireError(.syntax, "RTSP WWW-Authenticate") }
            params.append((name, try Self.unquoted(raw)))
        }
        func param(_ name: String) -> String? {
            params.first { RTSPText.equalsIgnoringCase($0.name, name) }?.value
        }
        if RTSPText.equalsIgnoringCase(scheme, "Basic") {
            self = .basic(realm: param("realm") ?? "")
            return
        }
        guard RTSPText.equalsIgnoringCase(scheme, "Digest") else {
            throw WireError(.unsupportedType, "RTSP WWW-Authenticate")
        }
        guard let realm = param("realm"), let nonce = param("nonce") else {
            throw WireError(.unsupportedType, "RTSP WWW-Authenticate")
        }
        let algorithm = param("algorithm").map { $0.uppercased() } ?? "MD5"
        guard RTSPDigestChallenge.algorithms.contains(algorithm) else {
            throw WireError(.unsupportedType, "RTSP WWW-Authenticate")
        }
        var qopAuth = false
        if let qop = param("qop") {
            qopAuth = qop.split(separator: ",").contains { RTSPText.equalsIgnoringCase(RTSPText.trimmed($0), "auth") }
            guard qopAuth else { throw WireError(.unsupportedType, "RTSP WWW-Authenticate") }
        }
        let stale = param("stale").map { $0.lowercased() == "true" } ?? false
        self = .digest(RTSPDigestChallenge(
            realm: realm, nonce: nonce, opaque: param("opaque"), algorithm: algorithm, qopAuth: qopAuth, stale: stale))
    }

    /// The first challenge of `values` (a response's `WWW-Authenticate` fields) this client can
    /// answer, Digest preferred over Basic; nil when there is none.
    public static func preferred(among values: [String]) -> RTSPAuthChallenge? {
        let parsed = values.compactMap { try? RTSPAuthChallenge(parsing: $0) }
        return parsed.first { if case .digest = $0 { true } else { false } } ?? parsed.first
    }

    /// The text of a quoted-string without quotes and escapes, or a token as it is.
    private static func unquoted(_ raw: Substring) throws(WireError) -> String {
        guard raw.utf8.first == 0x22 else { return String(raw) }
        guard raw.utf8.count >= 2, raw.utf8.last == 0x22 else { throw WireError(.syntax, "RTSP WWW-Authenticate") }
        var out: [UInt8] = []
        var escaped = false
        for c in raw.utf8.dropFirst().dropLast() {
            if !escaped && c == 0x5C { escaped = true; continue }
            escaped = false
            out.append(c)
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The parameters of a Digest challenge that the client's answer depends on (RFC 2617 §3.2.1).
public struct RTSPDigestChallenge: Sendable, Equatable {
    /// The algorithms this client answers (RFC 7616 §3.3).
    public static let algorithms: Set<String> = ["MD5", "MD5-SESS", "SHA-256", "SHA-256-SESS"]

    /// The protection space, shown to users and hashed into the answer.
    public var realm: String
    /// The server's nonce.
    public var nonce: String
    /// Data to return unchanged, when given.
    public var opaque: String?
    /// The hash algorithm in upper case: `MD5` (default), `MD5-SESS`, `SHA-256`, `SHA-256-SESS`.
    public var algorithm: String
    /// True when the server offers `qop=auth` (then the answer carries qop, nc and cnonce);
    /// false for the RFC 2069 form without qop.
    public var qopAuth: Bool
    /// True when the server says the previous nonce was stale (retry with the new one).
    public var stale: Bool

    /// Creates a challenge.
    public init(
        realm: String, nonce: String, opaque: String? = nil, algorithm: String = "MD5", qopAuth: Bool = false,
        stale: Bool = false
    ) {
        self.realm = realm
        self.nonce = nonce
        self.opaque = opaque
        self.algorithm = algorithm
        self.qopAuth = qopAuth
        self.stale = stale
    }

    /// The `Authorization` value answering this challenge (RFC 2617 §3.2.2) for `username`
    /// and `uri` with the computed `response`; `cnonce` and `nonceCount` are used with qop.
    public func authorization(
        username: String, uri: String, response: String, cnonce: String, nonceCount: UInt32
    ) -> String {
        var text = "Digest username=\(Self.quoted(username)), realm=\(Self.quoted(realm)), "
            + "nonce=\(Self.quoted(nonce)), uri=\(Self.quoted(uri)), response=\(Self.quoted(response))"
        if algorithm != "MD5" { text += ", algorithm=\(algorithm)" }
        if let opaque { text += ", opaque=\(Self.quoted(opaque))" }
        if qopAuth { text += ", qop=auth, nc=\(Self.nonceCountText(nonceCount)), cnonce=\(Self.quoted(cnonce))" }
        return text
    }

    /// `nc` as eight lowercase hex digits (RFC 2617 §3.2.2).
    public static func nonceCountText(_ count: UInt32) -> String {
        let hex = String(count, radix: 16)
        return String(repeating: "0", count: 8 - hex.count) + hex
    }

    /// A quoted-string with `"` and `\` escaped.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for c in text.unicodeScalars {
            if c == "\"" || c == "\\" { out.unicodeScalars.append("\\") }
            out.unicodeScalars.append(c)
        }
        return out + "\""
    }
}
