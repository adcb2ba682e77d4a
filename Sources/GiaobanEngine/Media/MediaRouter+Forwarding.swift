internal import GiaobanCrypto
public import GiaobanWire

extension MediaRouter {
    /// SRTP and SRTCP from a peer with a completed handshake: decrypt once, in place, then
    /// forward (RTP from a publisher) or act on feedback (RTCP).
    func handleSRTP(_ datagram: UnsafeMutableRawBufferPointer, from source: STUNAddress, now: ContinuousClock.Instant,
                    out: OutputQueue) {
        guard let peer = peersByAddress[source] else { return counters.drop(.rtpNoPeer) }
        guard let srtpIn = peer.srtpIn else { return counters.drop(.rtpNotReady) }
        guard datagram.count >= 12 else { return counters.drop(.truncated) }
        // RFC 5761 §4: with rtcp-mux, the second byte 192–223 marks RTCP.
        if (192...223).contains(datagram[1]) {
            let length: Int
            do { length = try srtpIn.unprotectRTCP(datagram, length: datagram.count) } catch { return countSRTP(error) }
            counters.rtcpReceived &+= 1
            handleRTCP(UnsafeRawBufferPointer(rebasing: datagram[0..<length]), from: peer, now: now, out: out)
            return
        }
        let length: Int
        do { length = try srtpIn.unprotectRTP(datagram, length: datagram.count) } catch { return countSRTP(error) }
        guard let stream = peer.published else { return counters.drop(.rtpUnknownSSRC) }
        forward(UnsafeRawBufferPointer(rebasing: datagram[0..<length]), from: peer, in: stream, now: now, out: out)
    }

    /// One plain RTP packet of a local publisher (`PeerSetup.local`: an RTSP camera), forwarded
    /// like any publisher's; nothing when `peer` is not a local publisher.
    public func injectRTP(_ bytes: UnsafeRawBufferPointer, peer id: String, now: ContinuousClock.Instant, out: OutputQueue) {
        guard let peer = peers[id], peer.setup.local, let stream = peer.published else { return counters.drop(.rtpNoPeer) }
        forward(bytes, from: peer, in: stream, now: now, out: out)
    }

    /// One plain RTCP compound of a local publisher (a trunk from a parent relay passes on the
    /// parent's sender reports): read as a publisher's, so its watchers' reports and the
    /// recorder get the NTP↔RTP pairs; nothing when `peer` is not a local publisher.
    public func injectRTCP(_ bytes: UnsafeRawBufferPointer, peer id: String, now: ContinuousClock.Instant, out: OutputQueue) {
        guard let peer = peers[id], peer.setup.local, peer.published != nil else { return }
        handleRTCP(bytes, from: peer, now: now, out: out)
    }

    func countSRTP(_ error: SRTPError) {
        switch error.reason {
        case .authenticationFailed: counters.drop(.srtpAuthFailed)
        case .replayed: counters.drop(.srtpReplayed)
        case .tooOld: counters.drop(.srtpOld)
        case .malformed, .noRoom, .badKey: counters.drop(.srtpMalformed)
        case .failed: counters.drop(.srtpOther)
        }
    }

    /// Forwards one plain RTP packet of `publisher` to every ready subscriber of `stream`:
    /// a fresh header (`RTPEgressHeader`: the subscriber's payload type, SSRC, sequence number
    /// and timestamp) and the payload are written straight into an output slot and protected
    /// there with the subscriber's SRTP session. No allocation.
    ///
    /// Video goes to the subscribers that take the packet's layer; a subscriber waiting for
    /// another layer switches on that layer's keyframe (sequence numbers, timestamps and VP8
    /// picture IDs continue without a gap).
    func forward(_ bytes: UnsafeRawBufferPointer, from publisher: MediaPeer, in stream: RelayStream,
                 now: ContinuousClock.Instant, out: OutputQueue) {
        guard let packet = try? RTPPacketView(bytes) else { return counters.drop(.rtpMalformed) }
        if let id = publisher.setup.transportCCExtensionID, let element = packet.extensions.element(id: id), element.data.count >= 2 {
            publisher.transportFeedback.record(sequence: element.data.u16(at: 0), arrival: microseconds(now))
        }
        let isVideo: Bool
        var layerNumber = 0
        if let video = publisher.setup.video, packet.payloadType == video.payloadType {
            isVideo = true
            guard let index = layerIndex(of: packet, publisher: publisher, stream: stream) else {
                return counters.drop(.rtpUnknownSSRC)
            }
            layerNumber = index
            let layer = stream.layers[index]
            layer.cache.store(bytes, sequence: packet.sequenceNumber)
            switch layer.nacks.received(packet.sequenceNumber, now: now) {
            case .retransmission: counters.upstreamRecovered &+= 1
            case .gapTooWide: layer.keyframeRequestPending = true  // too much lost to ask for packet by packet
            case .inOrder, .reordered: break
            }
            layer.reception.record(sequence: packet.sequenceNumber, timestamp: packet.timestamp,
                                   arrival: rtpTime(now, clockRate: video.clockRate))
            layer.lastTimestamp = packet.timestamp
            layer.meterBytes &+= packet.payloadLength
            layer.lastPacketAt = now
        } else if let audio = publisher.setup.audio, packet.payloadType == audio.payloadType {
            isVideo = false
            if publisher.audioSSRC == 0 { publisher.audioSSRC = packet.ssrc }
            guard publisher.audioSSRC == packet.ssrc else { return counters.drop(.rtpUnknownSSRC) }
            stream.audioCache.store(bytes, sequence: packet.sequenceNumber)
            stream.audioReception.record(sequence: packet.sequenceNumber, timestamp: packet.timestamp,
                                         arrival: rtpTime(now, clockRate: audio.clockRate))
            stream.lastAudioTimestamp = packet.timestamp
            if let id = publisher.setup.audioLevelExtensionID, let element = packet.extensions.element(id: id),
               let level = try? AudioLevelExtension(element.data) {
                stream.audioLevel = level
            }
            let sinks = stream.audioSinks
            if !sinks.isEmpty, !stream.policy.muted, packet.payloadLength > 0 {
                for index in 0..<sinks.count {
                    sinks[index].push(source: stream.name, sequence: packet.sequenceNumber, timestamp: packet.timestamp,
                                      payload: packet.payload, level: stream.audioLevel)
                }
            }
            if stream.policy.holdsAudio {
                // Held back, with no gap left in any subscriber's sequence numbers.
                stream.audioHeld &+= 1
                counters.rtpReceived &+= 1
                let subscribers = stream.subscribers
                for index in 0..<subscribers.count { _ = subscribers[index].audioOut.skip(sequence: packet.sequenceNumber) }
                return
            }
        } else {
            return counters.drop(.rtpUnknownSSRC)
        }
        counters.rtpReceived &+= 1
        // Video sinks (the compositor, the recorder) take VP8 and VP9; H.264 is only forwarded.
        if isVideo, !stream.videoSinks.isEmpty, packet.payloadLength > 0, layerNumber == (stream.ranked.last ?? 0),
           publisher.setup.video?.codec != "H264" {  // codecs are upper case (SDP parsing)
            let sinks = stream.videoSinks
            for index in 0..<sinks.count {
                sinks[index].push(source: stream.name, sequence: packet.sequenceNumber, timestamp: packet.timestamp,
                                  marker: packet.marker, payload: packet.payload)
            }
        }
        if isVideo && stream.policy.videoGated { return }  // not among the last-N speakers
        // VP8 descriptors are read only where layers switch (simulcast, or a paused subscriber).
        let codec = publisher.setup.video?.codec
        let vp8 = isVideo && stream.isSimulcast && codec == "VP8" ? try? VP8PayloadDescriptor(packet.payload) : nil
        if let vp8, let size = vp8.keyFrameSize {
            let layer = stream.layers[layerNumber]
            layer.width = Int(size.width)
            layer.height = Int(size.height)
        }
        // An index loop: in debug builds `for-in` goes through the generic iterator, whose
        // coroutine frames are heap-allocated, and the zero-allocation test runs in debug.
        let subscribers = stream.subscribers
        for index in 0..<subscribers.count {
            let subscriber = subscribers[index]
            let peer = subscriber.peer
            guard let destination = peer.address, let srtp = peer.srtpOut,
                  let track = isVideo ? subscriber.video : subscriber.audio else { continue }
            if isVideo && subscriber.layer != layerNumber {
                guard subscriber.targetLayer == layerNumber,
                      Self.startsKeyframe(packet, vp8: vp8, codec: codec) else { continue }
                switchLayer(subscriber, to: layerNumber, at: packet, vp8: vp8, now: now)
            }
            if packet.payloadLength == 0 {
                // Padding-only (bandwidth probing): not forwarded, and no gap left behind.
                if isVideo { _ = subscriber.videoOut.skip(sequence: packet.sequenceNumber) } else { _ = subscriber.audioOut.skip(sequence: packet.sequenceNumber) }
                continue
            }
            let mapped = isVideo ? subscriber.videoOut.rewrite(sequence: packet.sequenceNumber, timestamp: packet.timestamp)
                                 : subscriber.audioOut.rewrite(sequence: packet.sequenceNumber, timestamp: packet.timestamp)
            guard let (sequence, timestamp) = mapped else { continue }
            let slot = out.nextSlot(lane: peer.lane)
            let length = writeEgress(packet, to: peer, payloadType: track.payloadType, ssrc: track.ssrc,
                                     sequence: sequence, timestamp: timestamp, now: now, into: slot)
            if let vp8, length > 0 {
                let start = length - packet.payload.count
                subscriber.pictures.apply(vp8, to: UnsafeMutableRawBufferPointer(rebasing: slot[start..<length]))
            }
            guard length > 0, out.commitProtected(length: length, to: destination, lane: peer.lane, context: srtp, rtcp: false) else {
                counters.drop(.noRoom)
                continue
            }
            counters.rtpForwarded &+= 1
            if isVideo {
                subscriber.videoSent.packets &+= 1
                subscriber.videoSent.octets &+= UInt32(truncatingIfNeeded: packet.payloadLength)
                subscriber.lastVideoSentAt = now
            } else {
                subscriber.audioSent.packets &+= 1
                subscriber.audioSent.octets &+= UInt32(truncatingIfNeeded: packet.payloadLength)
                subscriber.lastAudioSentAt = now
            }
        }
    }

    /// The index of the publisher's layer that `packet` belongs to: by SSRC, or for a new
    /// SSRC of a simulcast publisher by its RTP stream id extension; nil when unknown.
    @inline(__always)
    func layerIndex(of packet: RTPPacketView, publisher: MediaPeer, stream: RelayStream) -> Int? {
        let layers = stream.layers
        if layers.count == 1 {
            let layer = layers[0]
            if layer.ssrc == 0 { layer.ssrc = packet.ssrc }
            return layer.ssrc == packet.ssrc ? 0 : nil
        }
        for i in 0..<layers.count where layers[i].ssrc == packet.ssrc { return i }
        guard let id = publisher.setup.ridExtensionID, let element = packet.extensions.element(id: id) else { return nil }
        for i in 0..<layers.count where layers[i].matches(element.data) {
            layers[i].ssrc = packet.ssrc
            return i
        }
        return nil
    }

    /// True when `packet` is the first packet of a keyframe (VP8: RFC 7741 §4.3; VP9: RFC 9628 §4.2,
    /// a non-inter-predicted start of frame of spatial layer 0).
    static func startsKeyframe(_ packet: RTPPacketView, vp8: VP8PayloadDescriptor?, codec: String?) -> Bool {
        if let vp8 { return vp8.isKeyFrame }
        if codec == "VP8" { return (try? VP8PayloadDescriptor(packet.payload))?.isKeyFrame ?? false }
        if codec == "VP9", let vp9 = try? VP9PayloadDescriptor(packet.payload) {
            return vp9.isStartOfFrame && !vp9.isInterPicturePredicted && (vp9.spatialLayer ?? 0) == 0
        }
        if codec == "H264" { return H264Payload.startsKeyframe(packet.payload) }
        return false
    }

    /// Moves `subscriber` onto layer `index`, whose keyframe starts at `packet`: its output
    /// continues after the last packet it was sent, the timestamp advanced by the time since.
    func switchLayer(_ subscriber: Subscription, to index: Int, at packet: RTPPacketView, vp8: VP8PayloadDescriptor?,
                     now: ContinuousClock.Instant) {
        let gap = Subscription.ticks(since: subscriber.lastVideoSentAt, now: now, clockRate: 90_000)
        subscriber.videoOut.switchSource(sequence: packet.sequenceNumber, timestamp: packet.timestamp, timestampGap: gap)
        if let vp8 { subscriber.pictures.rebase(picture: vp8.pictureID, tl0: vp8.tl0PicIdx) }
        subscriber.layer = index
        subscriber.layerSwitches &+= 1
        counters.layerSwitches &+= 1
    }

    /// Writes the egress packet for `subscriber`: `packet`'s payload and marker behind the
    /// subscriber's header (see `writePacket`); returns its length, 0 when it does not fit.
    @inline(__always)
    func writeEgress(_ packet: RTPPacketView, to subscriber: MediaPeer, payloadType: UInt8, ssrc: UInt32, sequence: UInt16,
                     timestamp: UInt32, now: ContinuousClock.Instant, resend: Bool = false,
                     into slot: UnsafeMutableRawBufferPointer) -> Int {
        writePacket(packet.payload, to: subscriber, marker: packet.marker, payloadType: payloadType, ssrc: ssrc,
                    sequence: sequence, timestamp: timestamp, now: now, resend: resend, into: slot)
    }

    /// Writes an RTP packet with `payload` for `subscriber` into `slot` (RFC 3550 §5.1 header, no
    /// CSRCs, no padding); returns its length, 0 when the slot cannot also hold an SRTP tag.
    /// One-byte extension elements (RFC 8285 §4.2) follow when wanted: with transport-wide
    /// congestion control negotiated, the next transport-wide sequence number (the estimator
    /// remembers the send time and size), then the audio level when given. A `resend` carries
    /// the number the original carried, so it is the same bytes under the same SRTP index; 0
    /// when that number is no longer known (the packet is then not sent again).
    @inline(__always)
    func writePacket(_ payload: UnsafeRawBufferPointer, to subscriber: MediaPeer, marker: Bool, payloadType: UInt8, ssrc: UInt32,
                     sequence: UInt16, timestamp: UInt32, level: (id: UInt8, byte: UInt8)? = nil, now: ContinuousClock.Instant,
                     resend: Bool = false, into slot: UnsafeMutableRawBufferPointer) -> Int {
        var header = RTPEgressHeader(payloadType: payloadType, sequenceNumber: sequence, timestamp: timestamp, ssrc: ssrc,
                                     marker: marker)
        let id = subscriber.egressTransportCC
        let numbered = id != 0 && header.appendElement(id: id, length: 2)
        if let level { header.appendElement(id: level.id, length: 1, value: UInt32(level.byte)) }
        let length = header.write(payload: payload, into: slot)
        if numbered, length > 0 {
            let transport: UInt16
            if resend {
                guard let original = subscriber.sentTransport.number(ssrc: ssrc, sequence: sequence) else { return 0 }
                transport = original
                subscriber.bandwidth?.resent(original)  // lost once, whatever feedback says of the resend
            } else {
                // The estimator hands out the number and records the size with IP and UDP headers (28 bytes).
                transport = subscriber.bandwidth?.sent(size: length + 28, at: microseconds(now)) ?? 0
                subscriber.sentTransport.record(ssrc: ssrc, sequence: sequence, number: transport)
            }
            slot.setU16(transport, at: header.elementDataOffset(0))
        }
        return length
    }

    /// `now` in microseconds since the router started (transport-wide feedback).
    func microseconds(_ now: ContinuousClock.Instant) -> Int64 {
        let elapsed = now - started
        return elapsed.components.seconds * 1_000_000 + elapsed.components.attoseconds / 1_000_000_000_000
    }

    /// `now` in units of a `clockRate` clock since the router started (jitter computation).
    func rtpTime(_ now: ContinuousClock.Instant, clockRate: UInt32) -> Double {
        let elapsed = now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        return seconds * Double(clockRate)
    }
}
