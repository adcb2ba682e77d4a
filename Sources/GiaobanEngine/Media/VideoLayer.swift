public import GiaobanWire
import GiaobanRTP

/// One encoding of a publisher's video as the relay receives it: the whole video of a
/// publisher without simulcast, or one simulcast encoding (RFC 8853) named by its rid
/// (RFC 8851) and recognised by the RTP stream id header extension (RFC 8852 §3.3) on its
/// first packets, then by SSRC.
final class VideoLayer {
    /// The rid from the offer; empty without simulcast.
    let rid: String
    /// The rid's bytes, compared with the RTP stream id extension without allocating.
    let ridBytes: [UInt8]
    /// The SSRC, from the offer or learnt from the first packet (0 until then).
    var ssrc: UInt32
    /// Recent packets, for NACKs.
    let cache: PacketCache
    /// Reception statistics (receiver reports to the publisher).
    var reception = ReceptionStatistics()
    /// Packets lost on the way from the publisher, to ask for again (Generic NACK upstream).
    var nacks = NACKScheduler(maxRetries: 3, minimumRetryInterval: MediaRouter.upstreamNACKInterval)
    /// The publisher's last sender report about this layer.
    var lastSR: (ntp: UInt64, rtp: UInt32, at: ContinuousClock.Instant)?
    /// Highest input timestamp seen.
    var lastTimestamp: UInt32 = 0
    /// Last PLI sent upstream for this layer, for throttling.
    var lastKeyframeRequest: ContinuousClock.Instant?
    /// A keyframe was asked for while throttled: `tick` sends it when allowed.
    var keyframeRequestPending = false
    /// Picture size from the layer's latest VP8 keyframe (0 until one arrives).
    var width = 0
    var height = 0
    /// Payload bytes since `meterStart`, and the measured bitrate (bit/s) of the last window.
    var meterBytes = 0
    var meterStart: ContinuousClock.Instant?
    var bitrate = 0
    /// When the layer's last packet arrived: a layer silent for a second is not chosen.
    var lastPacketAt: ContinuousClock.Instant?

    init(rid: String, ssrc: UInt32, cacheSize: Int, cacheBytes: Int) {
        self.rid = rid
        ridBytes = Array(rid.utf8)
        self.ssrc = ssrc
        cache = PacketCache(capacity: cacheSize, slotSize: 1500, byteCapacity: cacheBytes)
    }

    /// True when `element` (an RTP stream id extension) names this layer.
    func matches(_ element: UnsafeRawBufferPointer) -> Bool {
        guard element.count == ridBytes.count else { return false }
        for i in 0..<element.count where element[i] != ridBytes[i] { return false }
        return true
    }

    /// Closes the bitrate window when it is at least `window` old. The first call opens the
    /// first window: bytes counted before it (while the stream had no subscriber) are dropped,
    /// or they would be taken for one window's worth.
    func updateBitrate(now: ContinuousClock.Instant, window: Duration = .milliseconds(500)) {
        guard let start = meterStart else {
            meterStart = now
            meterBytes = 0
            return
        }
        let elapsed = now - start
        guard elapsed >= window else { return }
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        let measured = Int(Double(meterBytes * 8) / seconds)
        // A short memory: half the old value, half the new window.
        bitrate = bitrate == 0 ? measured : (bitrate + measured) / 2
        meterBytes = 0
        meterStart = now
    }

    /// True when a packet arrived in the last second.
    func isActive(now: ContinuousClock.Instant) -> Bool {
        guard let last = lastPacketAt else { return false }
        return now - last < .seconds(1)
    }
}

/// Keeps a subscriber's VP8 picture IDs and TL0PICIDX continuous across simulcast layer
/// switches (RFC 7741 §4.2: the receiver uses both to detect lost frames), the way
/// `SequenceRewriter` keeps its sequence numbers continuous.
struct VP8PictureRewriter: Sendable {
    var pictureOffset: UInt16 = 0
    var tl0Offset: UInt8 = 0
    /// The newest picture ID and TL0PICIDX sent (15-bit space), nil before the first.
    var lastPicture: UInt16?
    var lastTL0: UInt8?

    /// The next packet starts a new source: continue right after what was sent.
    mutating func rebase(picture: UInt16?, tl0: UInt8?) {
        if let picture { pictureOffset = lastPicture.map { ($0 &+ 1) &- picture } ?? 0 }
        if let tl0 { tl0Offset = lastTL0.map { ($0 &+ 1) &- tl0 } ?? 0 }
    }

    /// Rewrites the descriptor of the payload copied into `payload` (same layout as `descriptor`).
    mutating func apply(_ descriptor: VP8PayloadDescriptor, to payload: UnsafeMutableRawBufferPointer) {
        if let picture = descriptor.pictureID {
            let mask: UInt16 = descriptor.hasLongPictureID ? 0x7FFF : 0x7F
            let out = (picture &+ pictureOffset) & mask
            try? descriptor.setPictureID(out, in: payload)
            // Newer (serial arithmetic in the 15- or 7-bit space) moves the mark.
            if let last = lastPicture {
                let ahead = (out &- last) & mask
                if ahead != 0 && ahead <= mask / 2 { lastPicture = out }
            } else {
                lastPicture = out
            }
        }
        if let tl0 = descriptor.tl0PicIdx {
            let out = tl0 &+ tl0Offset
            try? descriptor.setTL0PicIdx(out, in: payload)
            if let last = lastTL0 {
                let ahead = out &- last
                if ahead != 0 && ahead < 128 { lastTL0 = out }
            } else {
                lastTL0 = out
            }
        }
    }
}
