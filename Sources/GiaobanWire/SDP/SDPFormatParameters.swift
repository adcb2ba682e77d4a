/// `a=fmtp:<format> <format specific parameters>` (RFC 8866 §6.15), e.g.
/// `a=fmtp:111 minptime=10;useinbandfec=1` or `a=fmtp:97 apt=96` (RTX, RFC 4588 §8.6).
///
/// The parameters are read as a `;`-separated list of `name=value` items, in order; an item
/// without `=` (RED's `111/111`, telephone-event's `0-15`) has a nil value.
public struct SDPFormatParameters: SDPTypedAttribute, Hashable {
    /// The attribute name, `fmtp`.
    public static let attributeName = "fmtp"
    /// The format the parameters apply to: an RTP payload type in decimal for RTP media.
    public var format: String
    /// The parameters in order.
    public var parameters: [SDPParameter]

    /// Creates parameters for a format token.
    public init(format: String, parameters: [SDPParameter]) {
        self.format = format
        self.parameters = parameters
    }

    /// Creates parameters for an RTP payload type.
    public init(payloadType: UInt8, parameters: [SDPParameter]) {
        self.init(format: String(payloadType), parameters: parameters)
    }

    /// Parses `<format> <param>[;<param>…]`; spaces around items are ignored, empty items skipped.
    public init(attributeValue: String?) throws(WireError) {
        let (first, rest) = SDPText.head(try SDPText.required(attributeValue))
        format = try SDPText.token(first)
        var parameters: [SDPParameter] = []
        for piece in SDPText.split(rest, on: 0x3B) {
            let item = SDPText.trimmed(piece)
            if item.isEmpty { continue }
            if let kv = SDPText.cut(item, at: 0x3D) {
                let name = SDPText.trimmed(kv.before)
                guard !name.isEmpty else { throw SDPText.error }
                parameters.append(SDPParameter(String(name), String(SDPText.trimmed(kv.after))))
            } else {
                parameters.append(SDPParameter(String(item)))
            }
        }
        self.parameters = parameters
    }

    /// `<format> <param>;<param>…` (just `<format>` when there are no parameters).
    public var attributeValue: String? {
        parameters.isEmpty ? format : format + " " + parameters.map(\.description).joined(separator: ";")
    }

    /// The format as an RTP payload type, when it is one (0–127).
    public var payloadType: UInt8? { try? SDPText.payloadType(format[...]) }

    /// The value of parameter `name` (case-insensitive), e.g. `"profile-id"`.
    public subscript(name: String) -> String? {
        get { parameters.value(of: name) }
        set {
            let wanted = name.lowercased()
            if let i = parameters.firstIndex(where: { $0.name.lowercased() == wanted }) {
                if let newValue { parameters[i].value = newValue } else { parameters.remove(at: i) }
            } else if let newValue {
                parameters.append(SDPParameter(name, newValue))
            }
        }
    }

    /// The `apt=` value: the payload type an RTX format repairs (RFC 4588 §8.6).
    public var associatedPayloadType: UInt8? {
        self["apt"].flatMap { try? SDPText.payloadType($0[...]) }
    }
}
