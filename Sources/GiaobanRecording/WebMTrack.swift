/// The video track of a WebM file: VP8 or VP9 pictures of a given size (track number 1).
public struct WebMVideoTrack: Sendable, Equatable {
    /// The codecs WebM carries for video, by Matroska CodecID.
    public enum Codec: String, Sendable {
        /// VP8 (RFC 6386).
        case vp8 = "V_VP8"
        /// VP9.
        case vp9 = "V_VP9"
    }

    /// The codec.
    public var codec: Codec
    /// Picture width in pixels.
    public var width: Int
    /// Picture height in pixels.
    public var height: Int

    /// A track of `codec` pictures of `width` × `height`.
    public init(codec: Codec, width: Int, height: Int) {
        self.codec = codec
        self.width = width
        self.height = height
    }
}

/// The audio track of a WebM file: Opus at 48 kHz (Matroska's Opus mapping, CodecID `A_OPUS`).
public struct WebMAudioTrack: Sendable, Equatable {
    /// Output channels (1 or 2).
    public var channels: Int
    /// Samples at 48 kHz the decoder drops at the start (OpusHead pre-skip, RFC 7845 §5.1).
    public var preSkip: UInt16

    /// An Opus track of `channels` channels; 312 samples of pre-skip is libopus's encoder delay.
    public init(channels: Int = 1, preSkip: UInt16 = 312) {
        self.channels = channels
        self.preSkip = preSkip
    }

    /// The 19-byte OpusHead (RFC 7845 §5.1) that is the track's CodecPrivate: version 1,
    /// channels, pre-skip, 48 kHz input rate, gain 0, mapping family 0. Little-endian fields.
    public var opusHead: [UInt8] {
        var head = Array("OpusHead".utf8)
        head += [1, UInt8(truncatingIfNeeded: channels)]
        head += [UInt8(preSkip & 0xFF), UInt8(preSkip >> 8)]
        head += [0x80, 0xBB, 0x00, 0x00]  // 48000
        head += [0, 0, 0]  // output gain, channel mapping family
        return head
    }
}

extension WebMVideoTrack {
    /// Appends this track's TrackEntry (RFC 9559 §5.1.4.1) as track `number`.
    func appendEntry(number: UInt64, to out: inout [UInt8]) {
        appendTrackEntry(number: number, type: 1, codecID: codec.rawValue, to: &out) { e in
            EBML.appendMaster(MatroskaID.video, to: &e) { v in
                EBML.appendUnsigned(MatroskaID.pixelWidth, UInt64(max(0, width)), to: &v)
                EBML.appendUnsigned(MatroskaID.pixelHeight, UInt64(max(0, height)), to: &v)
            }
        }
    }
}

extension WebMAudioTrack {
    /// Appends this track's TrackEntry as track `number`; CodecDelay is the pre-skip and
    /// SeekPreRoll 80 ms, as the Matroska Opus mapping asks.
    func appendEntry(number: UInt64, to out: inout [UInt8]) {
        appendTrackEntry(number: number, type: 2, codecID: "A_OPUS", to: &out) { e in
            EBML.appendBinary(MatroskaID.codecPrivate, opusHead, to: &e)
            EBML.appendUnsigned(MatroskaID.codecDelay, UInt64(preSkip) * 1_000_000_000 / 48_000, to: &e)
            EBML.appendUnsigned(MatroskaID.seekPreRoll, 80_000_000, to: &e)
            EBML.appendMaster(MatroskaID.audio, to: &e) { a in
                EBML.appendFloat(MatroskaID.samplingFrequency, 48_000, to: &a)
                EBML.appendUnsigned(MatroskaID.channels, UInt64(max(1, channels)), to: &a)
            }
        }
    }
}

/// Appends a TrackEntry: number (also its UID), type (1 video, 2 audio), no lacing, the
/// CodecID, then what `settings` adds.
private func appendTrackEntry(number: UInt64, type: UInt64, codecID: String, to out: inout [UInt8],
                              settings: (inout [UInt8]) -> Void) {
    EBML.appendMaster(MatroskaID.trackEntry, to: &out) { e in
        EBML.appendUnsigned(MatroskaID.trackNumber, number, to: &e)
        EBML.appendUnsigned(MatroskaID.trackUID, number, to: &e)
        EBML.appendUnsigned(MatroskaID.trackType, type, to: &e)
        EBML.appendUnsigned(MatroskaID.flagLacing, 0, to: &e)
        EBML.appendString(MatroskaID.codecID, codecID, to: &e)
        settings(&e)
    }
}
