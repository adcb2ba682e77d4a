public import GiaobanWire

/// Which mix an encoded frame is: the one heard by every listener outside the speaking
/// set, or the mix-minus heard by one speaker (everyone seated except that speaker).
public enum MixKey: Hashable, Sendable, CustomStringConvertible {
    /// All seated speakers: for listeners who are not seated.
    case shared
    /// All seated speakers but this one: for that speaker when it is also a listener.
    case minus(String)

    public var description: String {
        switch self {
        case .shared: "shared"
        case .minus(let source): "minus-\(source)"
        }
    }
}

/// One encoded mix of a tick: a 20 ms Opus frame (RFC 7587) and its level.
public struct EncodedMix: Sendable {
    /// Which mix.
    public var key: MixKey
    /// The Opus packet: the RTP payload of every listener assigned to this mix.
    public var payload: [UInt8]
    /// The mix's level for the RFC 6464 header extension of the packets that carry it.
    public var level: AudioLevelExtension
}

/// What one listener receives this tick: a mix and the RTP numbering of its stream.
public struct ListenerPacket: Sendable, Equatable {
    /// The listener (the name given to `AudioMixer.setListeners`).
    public var listener: String
    /// Index into `MixerOutput.mixes` of the payload to send.
    public var mix: Int
    /// RTP sequence number of this packet in the listener's stream.
    public var sequenceNumber: UInt16
    /// RTP timestamp (48 kHz clock) of this packet in the listener's stream.
    public var timestamp: UInt32
    /// RTP marker bit: set on the stream's first packet.
    public var marker: Bool
}

/// Everything one mixer tick produced: one encoded frame per distinct mix, and per
/// listener which of them to send with what numbering.
public struct MixerOutput: Sendable {
    /// The tick's number, from 0.
    public var tick: UInt64
    /// The seated speakers whose audio is in the mixes.
    public var speakers: [String]
    /// The dominant speaker (for the video layout), if any.
    public var dominantSpeaker: String?
    /// One frame per distinct mix: `.shared` when a listener is not seated, `.minus(X)`
    /// for each seated speaker X who is also a listener.
    public var mixes: [EncodedMix]
    /// One entry per registered listener.
    public var listeners: [ListenerPacket]
    /// The mean number of 20 ms frames the sources' playout buffers held behind the ones
    /// mixed this tick: the mix's audio is about this many frames older than the newest packet.
    public var playoutDepth: Double = 0

    /// The mix `listener` gets this tick, if it is registered.
    public func mix(for listener: String) -> EncodedMix? {
        listeners.first { $0.listener == listener }.map { mixes[$0.mix] }
    }
}
