/// An optional that JSON shows as `null` when absent, instead of leaving the key out (what
/// synthesized `Encodable` does with a plain optional): clients see every field of a view.
public struct Nullable<Wrapped: Encodable>: Encodable {
    /// The value, or nil for `null`.
    public let value: Wrapped?

    /// Wraps `value`.
    public init(_ value: Wrapped?) { self.value = value }

    /// `null` or the value.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let value { try container.encode(value) } else { try container.encodeNil() }
    }
}

/// A null-or-value field travels between tasks as its value does.
extension Nullable: Sendable where Wrapped: Sendable {}
