/// Builds an RTP header extension block: the 4-byte profile/length word, the elements in
/// one-byte (RFC 8285 §4.2) or two-byte (RFC 8285 §4.3) form, and zero padding to a
/// multiple of 4 bytes (RFC 3550 §5.3.1).
///
/// Holds its elements in a small array: for packet sources and tests, not for the
/// forwarding path (which writes its few elements inline with `RTPEgressHeader`).
public struct RTPHeaderExtensionBuilder: Sendable, Equatable {
    /// One element to write: local ID and data.
    public struct Element: Sendable, Equatable {
        /// Local identifier: 1–14 for the one-byte form, 1–255 for the two-byte form.
        public var id: UInt8
        /// Data: 1–16 bytes in the one-byte form, 0–255 in the two-byte form.
        public var data: [UInt8]

        /// Creates an element.
        @inlinable public init(id: UInt8, data: [UInt8]) {
            self.id = id
            self.data = data
        }
    }

    /// The elements, in the order written.
    public var elements: [Element]
    /// The form to use; nil picks one-byte when every element fits it, else two-byte.
    public var form: RTPHeaderExtensionForm?
    /// The low 4 "appbits" of a two-byte profile (0x100X, RFC 8285 §4.3).
    public var appBits: UInt8

    /// Creates a builder.
    @inlinable
    public init(elements: [Element] = [], form: RTPHeaderExtensionForm? = nil, appBits: UInt8 = 0) {
        self.elements = elements
        self.form = form
        self.appBits = appBits
    }

    /// Appends an element.
    @inlinable
    public mutating func append(id: UInt8, data: [UInt8]) {
        elements.append(Element(id: id, data: data))
    }

    /// The form `marshal` will use.
    @inlinable
    public var resolvedForm: RTPHeaderExtensionForm {
        if let form { return form }
        for e in elements where e.id == 0 || e.id > 14 || e.data.isEmpty || e.data.count > 16 {
            return .twoByte
        }
        return .oneByte
    }

    /// The element bytes before padding to 4.
    @inlinable
    var elementBytes: Int {
        let perElement = resolvedForm == .twoByte ? 2 : 1
        var n = 0
        for e in elements { n += perElement + e.data.count }
        return n
    }

    /// The block size in bytes: 4 + elements, padded to a multiple of 4.
    @inlinable
    public var marshalSize: Int { 4 + (elementBytes + 3) / 4 * 4 }

    /// The 16-bit profile value written.
    @inlinable
    public var profile: UInt16 {
        resolvedForm == .twoByte
            ? RTPHeaderExtensionForm.twoByteProfile | UInt16(appBits & 0x0F)
            : RTPHeaderExtensionForm.oneByteProfile
    }

    /// Writes the block into `out`; returns `marshalSize`.
    ///
    /// Throws `.bufferTooSmall` when `out` is short, `.badExtension` when an element does not
    /// fit the form (ID 0, one-byte ID 15, one-byte data of 0 or more than 16 bytes,
    /// two-byte data over 255 bytes), `.unsupportedType` for the opaque form.
    @inlinable
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        let size = marshalSize
        guard out.count >= size else { throw WireError(.bufferTooSmall, "RTP header extension") }
        let form = resolvedForm
        guard form != .opaque else { throw WireError(.unsupportedType, "RTP header extension") }
        guard (size - 4) / 4 <= Int(UInt16.max) else { throw WireError(.badLength, "RTP header extension") }
        out.setU16(profile, at: 0)
        out.setU16(UInt16((size - 4) / 4), at: 2)
        var i = 4
        for e in elements {
            guard e.id != 0 else { throw WireError(.badExtension, "RTP header extension element") }
            if form == .oneByte {
                guard e.id < 15, (1...16).contains(e.data.count) else {
                    throw WireError(.badExtension, "RTP one-byte header extension element")
                }
                out[i] = e.id << 4 | UInt8(e.data.count - 1)
                i += 1
            } else {
                guard e.data.count <= 255 else {
                    throw WireError(.badExtension, "RTP two-byte header extension element")
                }
                out[i] = e.id
                out[i + 1] = UInt8(e.data.count)
                i += 2
            }
            for b in e.data {
                out[i] = b
                i += 1
            }
        }
        while i < size {
            out[i] = 0
            i += 1
        }
        return size
    }
}
