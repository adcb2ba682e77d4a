/// The `response` of HTTP Digest access authentication (RFC 2617 §3.2.2, RFC 7616 §3.4.1),
/// as RTSP uses it (RFC 2326 §D.2): MD5 or SHA-256, each also in its `-sess` form, with
/// `qop=auth` or without qop (RFC 2069).
///
///     A1  = user ":" realm ":" password          (-sess: H(A1) ":" nonce ":" cnonce)
///     A2  = method ":" uri
///     response = H(H(A1) ":" nonce ":" nc ":" cnonce ":" qop ":" H(A2))   with qop
///              = H(H(A1) ":" nonce ":" H(A2))                             without
public enum HTTPDigest {
    /// The hex `response` for the given challenge values and request; `algorithm` is `MD5`,
    /// `MD5-sess`, `SHA-256` or `SHA-256-sess` (case-insensitive); nil for another algorithm.
    /// `qop` is `"auth"` or nil; `nonceCount` is the eight-hex-digit `nc`.
    public static func response(
        username: String, password: String, realm: String, nonce: String, method: String, uri: String,
        algorithm: String = "MD5", qop: String? = nil, nonceCount: String = "00000001", cnonce: String = ""
    ) -> String? {
        let upper = algorithm.uppercased()
        let h: (String) -> String
        switch upper {
        case "MD5", "MD5-SESS": h = { MD5Digest.hex(Array($0.utf8)) }
        case "SHA-256", "SHA-256-SESS": h = { SHA256Digest.hex(Array($0.utf8)) }
        default: return nil
        }
        var ha1 = h("\(username):\(realm):\(password)")
        if upper.hasSuffix("-SESS") { ha1 = h("\(ha1):\(nonce):\(cnonce)") }
        let ha2 = h("\(method):\(uri)")
        if let qop { return h("\(ha1):\(nonce):\(nonceCount):\(cnonce):\(qop):\(ha2)") }
        return h("\(ha1):\(nonce):\(ha2)")
    }
}
