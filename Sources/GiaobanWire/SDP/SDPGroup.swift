/// `a=group:<semantics> <mid>…` (RFC 5888 §5), e.g. `a=group:BUNDLE 0 1` (RFC 8843 §7.1).
public struct SDPGroup: SDPTypedAttribute, Hashable {
    /// The attribute name, `group`.
    public static let attributeName = "group"
    /// The grouping semantics, e.g. `BUNDLE`, `LS`, `FID`.
    public var semantics: String
    /// The identification tags (`a=mid` values) of the grouped sections, in order.
    public var mids: [String]

    /// Creates a group.
    public init(semantics: String, mids: [String]) {
        self.semantics = semantics
        self.mids = mids
    }

    /// Parses `<semantics> *(SP <identification-tag>)`; all tokens.
    public init(attributeValue: String?) throws(WireError) {
        let f = SDPText.fields(try SDPText.required(attributeValue))
        guard let first = f.first else { throw SDPText.error }
        semantics = try SDPText.token(first)
        var mids: [String] = []
        for tag in f.dropFirst() { mids.append(try SDPText.token(tag)) }
        self.mids = mids
    }

    /// `<semantics> <mid> …`.
    public var attributeValue: String? { ([semantics] + mids).joined(separator: " ") }
}
