/// Decoders and encoders for the header extension elements the relay reads or rewrites.
/// Each reads an element's `data` (see `RTPHeaderExtensions`); none allocates.

/// Client-to-mixer audio level (RFC 6464 §3): voice activity flag and level in −dBov.
public struct AudioLevelExtension: Sendable, Equatable {
    /// V: the sender believes the packet contains voice.
    public var voiceActivity: Bool
    /// Level 0–127, meaning 0 to −127 dBov (127 is silence).
    public var level: UInt8

    /// The data size of the element.
    public static let size = 1

    /// Creates a value; `level` is clamped to 127.
    @inlinable
    public init(level: UInt8, voiceActivity: Bool) {
        self.level = min(level, 127)
        self.voiceActivity = voiceActivity
    }

    /// Decodes element data; throws `.truncated` when empty.
    @inlinable
    public init(_ data: UnsafeRawBufferPointer) throws(WireError) {
        guard data.count >= Self.size else { throw WireError(.truncated, "RTP audio level extension") }
        voiceActivity = data[0] & 0x80 != 0
        level = data[0] & 0x7F
    }

    /// The encoded byte: V in the high bit, level below.
    @inlinable public var byte: UInt8 { (voiceActivity ? 0x80 : 0) | (level & 0x7F) }

    /// Writes the 1 data byte; returns 1.
    @inlinable
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard out.count >= Self.size else { throw WireError(.bufferTooSmall, "RTP audio level extension") }
        out[0] = byte
        return Self.size
    }
}

/// Transport-wide sequence number (draft-holmer-rmcat-transport-wide-cc-extensions-01 §2).
public struct TransportSequenceNumberExtension: Sendable, Equatable {
    /// The 16-bit transport-wide sequence number; compare with `Serial<SeqNum16>`.
    public var sequenceNumber: UInt16

    /// The data size of the element.
    public static let size = 2

    /// Creates a value.
    @inlinable public init(sequenceNumber: UInt16) { self.sequenceNumber = sequenceNumber }

    /// Decodes element data; throws `.truncated` when shorter than 2 bytes.
    @inlinable
    public init(_ data: UnsafeRawBufferPointer) throws(WireError) {
        guard data.count >= Self.size else {
            throw WireError(.truncated, "RTP transport-wide sequence number extension")
        }
        sequenceNumber = data.u16(at: 0)
    }

    /// Writes the 2 data bytes; returns 2.
    @inlinable
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard out.count >= Self.size else { throw WireError(.bufferTooSmall, "RTP transport-wide sequence number extension") }
        out.setU16(sequenceNumber, at: 0)
        return Self.size
    }
}

/// Absolute send time (webrtc.org abs-send-time): 24-bit 6.18 fixed-point seconds.
public struct AbsSendTimeExtension: Sendable, Equatable {
    /// The 24-bit value: 6 bits of seconds, 18 bits of fraction.
    public var value: UInt32

    /// The data size of the element.
    public static let size = 3

    /// Creates a value from its 24 low bits.
    @inlinable public init(value: UInt32) { self.value = value & 0xFF_FFFF }

    /// Creates a value from a 64-bit NTP timestamp (32.32 fixed point; RFC 3550 §4): bits 14–37.
    @inlinable public init(ntpTimestamp: UInt64) { value = UInt32(truncatingIfNeeded: ntpTimestamp >> 14) & 0xFF_FFFF }

    /// Decodes element data; throws `.truncated` when shorter than 3 bytes.
    @inlinable
    public init(_ data: UnsafeRawBufferPointer) throws(WireError) {
        guard data.count >= Self.size else { throw WireError(.truncated, "RTP abs-send-time extension") }
        value = data.u24(at: 0)
    }

    /// Writes the 3 data bytes; returns 3.
    @inlinable
    public func marshal(into out: UnsafeMutableRawBufferPointer) throws(WireError) -> Int {
        guard out.count >= Self.size else { throw WireError(.bufferTooSmall, "RTP abs-send-time extension") }
        out.setU24(value, at: 0)
        return Self.size
    }
}

/// A text-valued element: MID (RFC 8843 §15), RtpStreamId and RepairedRtpStreamId
/// (RFC 8852 §3). A view of the element bytes, valid while the packet buffer lives.
public struct TextHeaderExtension {
    /// The identifier's bytes (ASCII on the wire), without terminator.
    public let bytes: UnsafeRawBufferPointer

    /// Wraps element data; throws `.badValue` when empty (identifiers have at least one character).
    @inlinable
    public init(_ data: UnsafeRawBufferPointer) throws(WireError) {
        guard !data.isEmpty else { throw WireError(.badValue, "RTP MID/RID extension") }
        bytes = data
    }

    /// True when the bytes equal the UTF-8 of `text`; does not allocate.
    @inlinable
    public func equals(_ text: String) -> Bool {
        text.utf8.count == bytes.count && text.utf8.elementsEqual(bytes)
    }

    /// The text as a `String` (allocates; for signalling and logs, not the per-packet path).
    public var string: String { String(decoding: bytes, as: UTF8.self) }
}
