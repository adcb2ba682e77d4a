/// `a=setup:<role>` (RFC 4145 §4, for DTLS RFC 8842 §5): which side opens the DTLS
/// connection. Offers say `actpass`; answers `active` or `passive`.
public enum SDPSetup: String, SDPTypedAttribute, Hashable, CaseIterable {
    /// The endpoint initiates the connection (DTLS client).
    case active
    /// The endpoint accepts the connection (DTLS server).
    case passive
    /// The endpoint can be either; the answerer chooses.
    case actpass
    /// The connection is not to be set up yet.
    case holdconn

    /// The attribute name, `setup`.
    public static let attributeName = "setup"

    /// Parses one of the four role words.
    public init(attributeValue: String?) throws(WireError) {
        guard let role = SDPSetup(rawValue: String(try SDPText.required(attributeValue))) else {
            throw SDPText.error
        }
        self = role
    }

    /// The role word.
    public var attributeValue: String? { rawValue }
}
