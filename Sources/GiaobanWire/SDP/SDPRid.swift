/// `a=rid:<rid-id> <send|recv> [pt=<fmt>,…;][<restriction>;…]` (RFC 8851 §10): one RTP
/// stream of a media section, named by its RID, with optional payload types and
/// restrictions such as `max-width=1280;max-height=720`.
public struct SDPRid: SDPTypedAttribute, Hashable {
    /// The attribute name, `rid`.
    public static let attributeName = "rid"

    /// The direction of a rid (RFC 8851 §10 `rid-dir`).
    public enum Direction: String, Sendable, Hashable {
        /// The stream is sent by the side that wrote the description.
        case send
        /// The stream is received by the side that wrote the description.
        case recv
    }

    /// The RID: letters, digits, `-` and `_`.
    public var id: String
    /// Whether the stream is sent or received.
    public var direction: Direction
    /// The `pt=` list: payload types the stream may use; empty for any.
    public var payloadTypes: [UInt8]
    /// The other restrictions, in order (`max-width`, `max-height`, `max-fps`, `max-br`, …).
    public var restrictions: [SDPParameter]

    /// Creates a rid.
    public init(id: String, direction: Direction, payloadTypes: [UInt8] = [], restrictions: [SDPParameter] = []) {
        self.id = id
        self.direction = direction
        self.payloadTypes = payloadTypes
        self.restrictions = restrictions
    }

    /// Parses `<id> <dir>[ <params>]`, the params `;`-separated with `pt=` first when present.
    public init(attributeValue: String?) throws(WireError) {
        let (name, rest) = SDPText.head(try SDPText.required(attributeValue))
        guard SDPRid.isRID(name) else { throw SDPText.error }
        id = String(name)
        let (dir, parameters) = SDPText.head(rest)
        guard let d = Direction(rawValue: String(dir)) else { throw SDPText.error }
        direction = d
        payloadTypes = []
        restrictions = []
        var first = true
        for piece in SDPText.split(parameters, on: 0x3B) {
            let item = SDPText.trimmed(piece)
            if item.isEmpty { continue }
            defer { first = false }
            let kv = SDPText.cut(item, at: 0x3D)
            let key = kv?.before ?? item
            guard !key.isEmpty, key.utf8.allSatisfy({ SDPRid.isRIDByte($0) && $0 != 0x5F }) else {
                throw SDPText.error
            }
            if key.utf8.elementsEqual("pt".utf8) {
                guard first, let list = kv?.after else { throw SDPText.error }  // pt= comes first
                for format in SDPText.split(list, on: 0x2C) { payloadTypes.append(try SDPText.payloadType(format)) }
            } else {
                restrictions.append(SDPParameter(String(key), kv.map { String($0.after) }))
            }
        }
    }

    /// `<id> <dir>[ pt=<pt>,…][;<restriction>…]`.
    public var attributeValue: String? {
        var items: [String] = []
        if !payloadTypes.isEmpty { items.append("pt=" + payloadTypes.map { String($0) }.joined(separator: ",")) }
        items += restrictions.map(\.description)
        let text = id + " " + direction.rawValue
        return items.isEmpty ? text : text + " " + items.joined(separator: ";")
    }

    /// The value of restriction `name` (e.g. `max-fps`), nil when absent.
    public func restriction(_ name: String) -> String? { restrictions.value(of: name) }

    /// `max-width` in pixels (RFC 8851 §5).
    public var maxWidth: UInt32? { restriction("max-width").flatMap { try? SDPText.number($0[...]) } }

    /// `max-height` in pixels (RFC 8851 §5).
    public var maxHeight: UInt32? { restriction("max-height").flatMap { try? SDPText.number($0[...]) } }

    /// `max-br` in bits per second (RFC 8851 §5).
    public var maxBitrate: UInt32? { restriction("max-br").flatMap { try? SDPText.number($0[...]) } }

    /// True when `text` is a valid RID (RFC 8851 §10 `rid-id`).
    static func isRID(_ text: Substring) -> Bool { !text.isEmpty && text.utf8.allSatisfy(isRIDByte) }

    /// Letters, digits, `-` and `_`.
    static func isRIDByte(_ b: UInt8) -> Bool {
        (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5A) || (b >= 0x61 && b <= 0x7A) || b == 0x2D || b == 0x5F
    }
}
