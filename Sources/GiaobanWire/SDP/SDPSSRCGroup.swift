/// `a=ssrc-group:<semantics> <ssrc-id>…` (RFC 5576 §4.2), e.g. `a=ssrc-group:FID 1 2`
/// (RTX: media SSRC then repair SSRC, RFC 4588 §8) or `SIM` (one SSRC per simulcast layer).
public struct SDPSSRCGroup: SDPTypedAttribute, Hashable {
    /// The attribute name, `ssrc-group`.
    public static let attributeName = "ssrc-group"
    /// The semantics: `FID`, `SIM`, `FEC-FR`, …
    public var semantics: String
    /// The grouped SSRCs, in order.
    public var ssrcs: [UInt32]

    /// Creates a group.
    public init(semantics: String, ssrcs: [UInt32]) {
        self.semantics = semantics
        self.ssrcs = ssrcs
    }

    /// Parses `<semantics> <ssrc> …` with at least one SSRC.
    public init(attributeValue: String?) throws(WireError) {
        let f = SDPText.fields(try SDPText.required(attributeValue))
        guard f.count >= 2 else { throw SDPText.error }
        semantics = try SDPText.token(f[0])
        var ssrcs: [UInt32] = []
        for id in f.dropFirst() { ssrcs.append(try SDPText.number(id)) }
        self.ssrcs = ssrcs
    }

    /// `<semantics> <ssrc> …`.
    public var attributeValue: String? {
        ([semantics] + ssrcs.map { String($0) }).joined(separator: " ")
    }
}
