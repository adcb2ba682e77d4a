/// `a=fingerprint:<hash function> <hex bytes>` (RFC 8122 §5): the hash of the DTLS
/// certificate, e.g. `a=fingerprint:sha-256 A4:B7:…:F7` (32 bytes).
public struct SDPFingerprint: SDPTypedAttribute, Hashable {
    /// The attribute name, `fingerprint`.
    public static let attributeName = "fingerprint"
    /// The hash function as written, e.g. `sha-256` (compare case-insensitively).
    public var hashFunction: String
    /// The digest bytes.
    public var bytes: [UInt8]

    /// Creates a fingerprint.
    public init(hashFunction: String, bytes: [UInt8]) {
        self.hashFunction = hashFunction
        self.bytes = bytes
    }

    /// Parses `<hash-func> XX:XX:…`: a token, then one or more two-digit hex bytes separated
    /// by `:` (upper case per RFC 8122; lower case is accepted).
    public init(attributeValue: String?) throws(WireError) {
        let f = SDPText.fields(try SDPText.required(attributeValue))
        guard f.count == 2 else { throw SDPText.error }
        hashFunction = try SDPText.token(f[0])
        var bytes: [UInt8] = []
        for pair in SDPText.split(f[1], on: 0x3A) {
            let u = Array(pair.utf8)
            guard u.count == 2, let hi = SDPFingerprint.hexValue(u[0]), let lo = SDPFingerprint.hexValue(u[1]) else {
                throw SDPText.error
            }
            bytes.append(hi << 4 | lo)
        }
        self.bytes = bytes
    }

    /// `<hash-func> XX:XX:…` in upper-case hex.
    public var attributeValue: String? { hashFunction + " " + hex }

    /// The digest as upper-case hex pairs separated by `:`.
    public var hex: String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3)
        for (i, b) in bytes.enumerated() {
            if i > 0 { out.append(0x3A) }
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The value of one ASCII hex digit.
    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }
}
