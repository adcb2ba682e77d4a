/// One `a=` line (RFC 8866 §5.13): `a=<name>` (a property attribute) or `a=<name>:<value>`.
///
/// The value is everything after the first colon, kept verbatim (leading spaces included),
/// so that a parsed description serializes back to the same text.
public struct SDPAttribute: Sendable, Hashable, CustomStringConvertible {
    /// The attribute name, an RFC 8866 `token` such as `rtpmap`.
    public var name: String
    /// The text after the first colon; nil for a property attribute such as `a=rtcp-mux`.
    public var value: String?

    /// Creates an attribute; `value` nil makes a property attribute.
    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }

    /// The line without its CRLF, e.g. `a=mid:0`.
    public var description: String {
        if let value { "a=\(name):\(value)" } else { "a=\(name)" }
    }
}

/// An ordered `name[=value]` item: an fmtp parameter (RFC 8866 §6.15), a rid restriction
/// (RFC 8851 §10) or a candidate extension (RFC 8839 §5.1).
public struct SDPParameter: Sendable, Hashable, CustomStringConvertible {
    /// The parameter name, e.g. `apt`.
    public var name: String
    /// The value after `=`, or nil for a bare item such as RED's `111/111`.
    public var value: String?

    /// Creates a parameter.
    public init(_ name: String, _ value: String? = nil) {
        self.name = name
        self.value = value
    }

    /// `name=value`, or `name` alone.
    public var description: String {
        if let value { "\(name)=\(value)" } else { name }
    }
}

extension Array where Element == SDPParameter {
    /// The value of the first parameter named `name` (compared ASCII case-insensitively);
    /// nil when absent or bare.
    public func value(of name: String) -> String? {
        let wanted = name.lowercased()
        return first { $0.name.lowercased() == wanted }?.value
    }
}

/// An attribute whose value has a grammar of its own, convertible to and from `SDPAttribute`.
public protocol SDPTypedAttribute: Sendable, Equatable {
    /// The attribute name this type reads and writes, e.g. `rtpmap`.
    static var attributeName: String { get }
    /// Parses the text after `a=<name>:` (nil for a property attribute); throws
    /// `WireError(.syntax, "SDP")` when it does not follow the grammar.
    init(attributeValue: String?) throws(WireError)
    /// The canonical text after `a=<name>:`, or nil for a property attribute.
    var attributeValue: String? { get }
}

extension SDPTypedAttribute {
    /// This value as an `a=` line.
    public var attribute: SDPAttribute { SDPAttribute(Self.attributeName, attributeValue) }

    /// Parses `attribute`; throws when its name is not `attributeName` or its value is malformed.
    public init(_ attribute: SDPAttribute) throws(WireError) {
        guard attribute.name == Self.attributeName else { throw SDPText.error }
        try self.init(attributeValue: attribute.value)
    }
}
