internal import GiaobanSRTP
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
        guard peer.setup.role == .publisher else { return counters.drop(.rtpUnknownSSRC) }
        forward(UnsafeRawBufferPointer(rebasing: datagram[0..<length]), from: peer, in: peer.stream, now: now, out: out)
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
    /// a fresh 12-byte header (the subscriber's payload type, SSRC, sequence number and
    /// timestamp) and the payload are written straight into an output slot and protected
    /// there with the subscriber's SRTP session. No allocation.
    func forward(_ bytes: UnsafeRawBufferPointer, from publisher: MediaPeer, in stream: RelayStream,
                 now: ContinuousClock.Instant, out: OutputQueue) {
        guard let packet = try? RTPPacketView(bytes) else { return counters.drop(.rtpMalformed) }
        if let id = publisher.setup.transportCCExtensionID, let element = packet.extensions.element(id: id), element.data.count >= 2 {
            publisher.transportFeedback.record(sequence: element.data.u16(at: 0), arrival: microseconds(now))
        }
        let isVideo: Bool
        if let video = publisher.setup.video, packet.payloadType == video.payloadType {
            isVideo = true
            if publisher.videoSSRC == 0 { publisher.videoSSRC = packet.ssrc }
            guard publisher.videoSSRC == packet.ssrc else { return counters.drop(.rtpUnknownSSRC) }
            stream.videoCache.store(bytes, sequence: packet.sequenceNumber)
            stream.videoReception.record(sequence: packet.sequenceNumber, timestamp: packet.timestamp,
                                         arrival: rtpTime(now, clockRate: video.clockRate))
            stream.lastVideoTimestamp = packet.timestamp
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
            if stream.audioMuted || stream.audioGated {
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
        // An index loop: in debug builds `for-in` goes through the generic iterator, whose
        // coroutine frames are heap-allocated, and the zero-allocation test runs in debug.
        let subscribers = stream.subscribers
        for index in 0..<subscribers.count {
            let subscriber = subscribers[index]
            guard let destination = subscriber.address, let srtp = subscriber.srtpOut,
                  let track = isVideo ? subscriber.setup.video : subscriber.setup.audio else { continue }
            if packet.payloadLength == 0 {
                // Padding-only (bandwidth probing): not forwarded, and no gap left behind.
                if isVideo { _ = subscriber.videoOut.skip(sequence: packet.sequenceNumber) } else { _ = subscriber.audioOut.skip(sequence: packet.sequenceNumber) }
                continue
            }
            let mapped = isVideo ? subscriber.videoOut.rewrite(sequence: packet.sequenceNumber, timestamp: packet.timestamp)
                                 : subscriber.audioOut.rewrite(sequence: packet.sequenceNumber, timestamp: packet.timestamp)
            guard let (sequence, timestamp) = mapped else { continue }
            let slot = out.nextSlot()
            let length = Self.writeEgress(packet, payloadType: track.payloadType, ssrc: track.ssrc,
                                          sequence: sequence, timestamp: timestamp, into: slot)
            guard length > 0, let protected = try? srtp.protectRTP(slot, length: length) else {
                counters.drop(.noRoom)
                continue
            }
            out.commit(length: protected, to: destination)
            counters.rtpForwarded &+= 1
            if isVideo {
                subscriber.videoSent.packets &+= 1
                subscriber.videoSent.octets &+= UInt32(truncatingIfNeeded: packet.payloadLength)
            } else {
                subscriber.audioSent.packets &+= 1
                subscriber.audioSent.octets &+= UInt32(truncatingIfNeeded: packet.payloadLength)
            }
        }
    }

    /// Writes the egress packet (RFC 3550 §5.1 fixed header, marker kept, no CSRCs or
    /// extensions, then the payload without padding) into `slot`; returns its length, or 0
    /// when the slot cannot also hold an SRTP tag.
    @inline(__always)
    static func writeEgress(_ packet: RTPPacketView, payloadType: UInt8, ssrc: UInt32, sequence: UInt16,
                            timestamp: UInt32, into slot: UnsafeMutableRawBufferPointer) -> Int {
        let payload = packet.payload
        let length = 12 + payload.count
        guard length + 16 <= slot.count else { return 0 }
        slot[0] = 0x80
        slot[1] = (packet.marker ? 0x80 : 0) | (payloadType & 0x7F)
        slot.setU16(sequence, at: 2)
        slot.setU32(timestamp, at: 4)
        slot.setU32(ssrc, at: 8)
        if let src = payload.baseAddress, payload.count > 0 {
            (slot.baseAddress! + 12).copyMemory(from: src, byteCount: payload.count)
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
