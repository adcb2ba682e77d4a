/// Up to eight attributes, in order, stored inline: a builder's attribute list that does
/// not allocate (ICE requests and responses carry at most five besides the integrity ones).
public struct STUNAttributeList: RandomAccessCollection, Hashable, Sendable {
    /// The most attributes a list holds.
    public static let capacity = 8

    private var s0, s1, s2, s3, s4, s5, s6, s7: STUNAttributeValue?
    /// The number of attributes held.
    public private(set) var count: Int = 0

    /// An empty list.
    public init() {}

    /// Index of the first attribute: 0.
    public var startIndex: Int { 0 }
    /// One past the last attribute: `count`.
    public var endIndex: Int { count }

    /// The attribute at `index` (0 ..< count).
    public subscript(index: Int) -> STUNAttributeValue {
        precondition(index >= 0 && index < count, "STUNAttributeList index out of range")
        let slot: STUNAttributeValue?
        switch index {
        case 0: slot = s0
        case 1: slot = s1
        case 2: slot = s2
        case 3: slot = s3
        case 4: slot = s4
        case 5: slot = s5
        case 6: slot = s6
        default: slot = s7
        }
        return slot.unsafelyUnwrapped
    }

    /// Appends `value`; throws `.bufferTooSmall` when the list already holds `capacity`.
    public mutating func append(_ value: STUNAttributeValue) throws(WireError) {
        switch count {
        case 0: s0 = value
        case 1: s1 = value
        case 2: s2 = value
        case 3: s3 = value
        case 4: s4 = value
        case 5: s5 = value
        case 6: s6 = value
        case 7: s7 = value
        default: throw WireError(.bufferTooSmall, "STUN attribute list")
        }
        count += 1
    }

    /// Removes every attribute.
    public mutating func removeAll() {
        self = STUNAttributeList()
    }
}
