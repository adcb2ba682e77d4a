/// The one error type of the wire layer: a malformed or unsupported input, with a reason.
///
/// Parsers never trap on bad input; they throw `WireError` so that the caller can drop
/// the packet and count it by `reason`. Creating one does not allocate.
public struct WireError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Why the input was rejected; stable names, used as metric labels.
    public enum Reason: String, Sendable, CaseIterable {
        /// The input ends before a field or a declared length.
        case truncated
        /// A version field is not the one the format defines.
        case badVersion
        /// A length field disagrees with the bytes present or with the format.
        case badLength
        /// Padding is declared but its count is zero or larger than the payload.
        case badPadding
        /// A header extension block or element is malformed (RFC 8285).
        case badExtension
        /// A type, format or payload type is not one this parser knows.
        case unsupportedType
        /// A field holds a value the format forbids.
        case badValue
        /// A STUN attribute is malformed or misplaced (RFC 8489 §14).
        case badAttribute
        /// A checksum (CRC-32 FINGERPRINT) does not match.
        case badFingerprint
        /// A message-integrity HMAC does not match.
        case badIntegrity
        /// A text format (SDP) line does not follow the grammar.
        case syntax
        /// The caller's output buffer is smaller than `marshalSize`.
        case bufferTooSmall
    }

    /// Why the input was rejected.
    public let reason: Reason
    /// Which structure was being read or written, e.g. "RTP header".
    public let context: StaticString
    /// For text formats: the 1-based line number, else 0.
    public let line: Int

    /// Creates an error; `context` names the structure, `line` is for text formats.
    @inlinable
    public init(_ reason: Reason, _ context: StaticString, line: Int = 0) {
        self.reason = reason
        self.context = context
        self.line = line
    }

    public static func == (lhs: WireError, rhs: WireError) -> Bool {
        lhs.reason == rhs.reason && lhs.line == rhs.line
            && lhs.context.description == rhs.context.description
    }

    public var description: String {
        line > 0 ? "\(context): \(reason.rawValue) at line \(line)" : "\(context): \(reason.rawValue)"
    }
}
