/// The `b=` line (RFC 8866 §5.8): a bandwidth limit such as `AS:256` (kbit/s) or
/// `TIAS:256000` (bit/s, RFC 3890).
public struct SDPBandwidth: Sendable, Hashable, CustomStringConvertible {
    /// The modifier, e.g. `AS`, `CT` or `TIAS`.
    public var type: String
    /// The limit in the modifier's unit.
    public var value: UInt64

    /// Creates a bandwidth line.
    public init(type: String, value: UInt64) {
        self.type = type
        self.value = value
    }

    /// Parses the text after `b=`: `<bwtype>:<bandwidth>`.
    public init(parsing text: Substring) throws(WireError) {
        guard let parts = SDPText.cut(text, at: 0x3A) else { throw SDPText.error }
        type = try SDPText.token(parts.before)
        value = try SDPText.number(parts.after)
    }

    /// The text after `b=`.
    public var description: String { "\(type):\(value)" }
}
