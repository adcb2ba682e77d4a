public import GiaobanWire
import GiaobanRTP

/// Which RTCP the relay consumes, answers, generates or forwards: see docs/rtcp.md.
extension MediaRouter {
    func handleRTCP(_ bytes: UnsafeRawBufferPointer, from peer: MediaPeer, now: ContinuousClock.Instant, out: OutputQueue) {
        guard let compound = try? RTCPCompound(bytes, allowsPaddingBeforeLast: true) else { return counters.drop(.rtcpMalformed) }
        rtcpCompound = rtcpCompound == .max ? 1 : rtcpCompound + 1
        for packet in compound {
            switch (packet.packetType, packet.header.count) {
            case (.senderReport, _):
                guard let stream = peer.published else { continue }
                guard let sr = try? SenderReport(packet.bytes) else { continue }
                let entry = (ntp: sr.ntpTimestamp, rtp: sr.rtpTimestamp, at: now)
                if sr.ssrc == peer.audioSSRC {
                    stream.lastAudioSR = entry
                    for sink in stream.audioSinks {
                        (sink as? any SenderReportSink)?.senderReport(source: stream.name, video: false, ntp: sr.ntpTimestamp, rtp: sr.rtpTimestamp)
                    }
                } else if let index = stream.layers.firstIndex(where: { $0.ssrc == sr.ssrc }) {
                    stream.layers[index].lastSR = entry
                    guard index == (stream.ranked.last ?? 0) else { continue }
                    // Video sinks get the highest layer: its report maps their timestamps.
                    for sink in stream.videoSinks {
                        (sink as? any SenderReportSink)?.senderReport(source: stream.name, video: true, ntp: sr.ntpTimestamp, rtp: sr.rtpTimestamp)
                    }
                }
            case (.transportFeedback, GenericNACK.format) where peer.setup.role == .subscriber:
                guard let nack = try? GenericNACK(packet.bytes) else { counters.drop(.rtcpMalformed); continue }
                guard let (subscription, isVideo) = peer.subscription(ssrc: nack.mediaSSRC) else { continue }
                answerNACK(nack, for: subscription, isVideo: isVideo, now: now, out: out)
            case (.payloadFeedback, PictureLossIndication.format), (.payloadFeedback, FullIntraRequest.format):
                guard peer.setup.role == .subscriber, let subscription = keyframeSubscription(packet, of: peer) else { continue }
                let stream = subscription.stream
                if let local = stream.keyframeRequested { local(subscription.wantedLayer) } else {
                    requestKeyframe(stream, layer: subscription.wantedLayer, now: now, out: out)
                }
            case (.transportFeedback, TransportWideFeedback.format) where peer.setup.role == .subscriber:
                guard let feedback = try? TransportWideFeedback(packet.bytes) else { counters.drop(.rtcpMalformed); continue }
                peer.bandwidth?.read(feedback, now: microseconds(now))
                counters.transportFeedbackReceived &+= 1
            case (.payloadFeedback, ReceiverEstimatedMaxBitrate.format) where peer.setup.role == .subscriber:
                // A subscriber's estimate of what its link takes: the layer choice shares it out.
                guard let remb = try? ReceiverEstimatedMaxBitrate(packet.bytes) else { continue }
                peer.estimate = Int(clamping: remb.bitrate)
                counters.rembReceived &+= 1
            default:
                // RR, SDES, BYE and TWCC are read by later layers; APP and unknown types are ignored.
                continue
            }
        }
    }

    /// The subscription a PLI or FIR is about: by the media SSRC (PLI, RFC 4585 §6.1) or the
    /// FCI's SSRC (FIR, RFC 5104 §4.3.1.1); a WHEP peer's one subscription when neither matches.
    func keyframeSubscription(_ packet: RTCPPacket, of peer: MediaPeer) -> Subscription? {
        if peer.subscriptions.count == 1 { return peer.subscriptions[0] }
        let bytes = packet.bytes
        for offset in [8, 12] where bytes.count >= offset + 4 {
            if let (subscription, _) = peer.subscription(ssrc: bytes.u32(at: offset)) { return subscription }
        }
        return nil
    }

    /// Answers a subscriber's NACK (RFC 4585 §6.2.1) by resending each lost packet from the
    /// publisher's cache, renumbered as the subscriber first saw it. A packet is sent again once
    /// per RTCP compound, at most `nackMaxPerPacket` times to this subscriber, and the
    /// subscriber gets at most `nackMaxPerSecond` retransmissions a second; what is refused
    /// is counted by reason (`nackRefused`).
    func answerNACK(_ nack: GenericNACK, for subscriber: Subscription, isVideo: Bool, now: ContinuousClock.Instant,
                    out: OutputQueue) {
        let peer = subscriber.peer, stream = subscriber.stream
        guard let destination = peer.address, let srtp = peer.srtpOut,
              let track = isVideo ? subscriber.video : subscriber.audio else { return }
        let cache: PacketCache
        if isVideo {
            guard subscriber.layer >= 0 && subscriber.layer < stream.layers.count else { return }
            cache = stream.layers[subscriber.layer].cache
        } else {
            cache = stream.audioCache
        }
        let rewritesPictures = isVideo && stream.isSimulcast && track.codec == "VP8"
        let log = retransmissionLog(of: subscriber, isVideo: isVideo, cache: cache)
        let compound = rtcpCompound, maxPerPacket = settings.nackMaxPerPacket, maxPerSecond = settings.nackMaxPerSecond
        nack.forEachLost { (lost: UInt16) in
            let input = isVideo ? subscriber.videoOut.inputSequence(forOutput: lost) : subscriber.audioOut.inputSequence(forOutput: lost)
            guard let serial = cache.serial(of: input) else {
                counters.nackMisses &+= 1
                return
            }
            if let refusal = log.check(serial: serial, compound: compound, maxSends: maxPerPacket) {
                return counters.refuseNACK(refusal)
            }
            guard peer.retransmissionBudget.take(rate: maxPerSecond, now: now) else { return counters.refuseNACK(.rateLimit) }
            guard let length = cache.copy(sequence: input, into: scratch),
                  let packet = try? RTPPacketView(UnsafeRawBufferPointer(rebasing: scratch[0..<length])) else {
                counters.nackMisses &+= 1
                return
            }
            let mapped = isVideo ? subscriber.videoOut.rewrite(sequence: input, timestamp: packet.timestamp)
                                 : subscriber.audioOut.rewrite(sequence: input, timestamp: packet.timestamp)
            guard let (sequence, timestamp) = mapped, sequence == lost else {
                counters.nackMisses &+= 1
                return
            }
            let slot = out.nextSlot(lane: peer.lane)
            let n = writeEgress(packet, to: peer, payloadType: track.payloadType, ssrc: track.ssrc, sequence: sequence,
                                timestamp: timestamp, now: now, resend: true, into: slot)
            if rewritesPictures, n > 0, let vp8 = try? VP8PayloadDescriptor(packet.payload) {
                subscriber.pictures.apply(vp8, to: UnsafeMutableRawBufferPointer(rebasing: slot[(n - packet.payload.count)..<n]))
            }
            guard n > 0 else {
                counters.nackMisses &+= 1  // its transport-wide number is no longer known
                return
            }
            guard out.commitProtected(length: n, to: destination, lane: peer.lane, context: srtp, rtcp: false) else { return }
            log.recordSent(serial: serial)
            counters.rtpRetransmitted &+= 1
        }
    }

    /// The subscriber's retransmission log for one kind, made on its first NACK of that kind.
    func retransmissionLog(of subscriber: Subscription, isVideo: Bool, cache: PacketCache) -> RetransmissionLog {
        if let log = isVideo ? subscriber.videoRetransmissions : subscriber.audioRetransmissions { return log }
        let log = RetransmissionLog(capacity: cache.capacity)
        if isVideo { subscriber.videoRetransmissions = log } else { subscriber.audioRetransmissions = log }
        return log
    }

    /// Asks the publisher of `stream` for a keyframe of layer `index` (PLI, RFC 4585 §6.3.1,
    /// about that layer's SSRC), at most once per `keyframeRequestInterval` per layer; a
    /// request inside the interval is remembered and sent by `tick`.
    func requestKeyframe(_ stream: RelayStream, layer index: Int, now: ContinuousClock.Instant, out: OutputQueue) {
        guard index >= 0 && index < stream.layers.count else { return }
        let layer = stream.layers[index]
        if let last = layer.lastKeyframeRequest, now - last < settings.keyframeRequestInterval {
            layer.keyframeRequestPending = true
            return
        }
        if stream.publisher?.setup.local == true, let upstream = stream.keyframeRequested {
            // A local publisher fed from elsewhere (a parent relay's trunk) asks its source.
            upstream(index)
            layer.lastKeyframeRequest = now
            layer.keyframeRequestPending = false
            counters.keyframeRequests &+= 1
            return
        }
        guard let publisher = stream.publisher, publisher.isReady, layer.ssrc != 0 else {
            layer.keyframeRequestPending = stream.publisher?.setup.video != nil
            return
        }
        let rr = ReceiverReportBuilder(ssrc: publisher.relaySSRC)
        let pli = PictureLossIndication(senderSSRC: publisher.relaySSRC, mediaSSRC: layer.ssrc)
        sendRTCP(to: publisher, out: out) { slot throws(WireError) in try RTCPCompound.marshal(rr, pli, into: slot) }
        layer.lastKeyframeRequest = now
        layer.keyframeRequestPending = false
        counters.keyframeRequests &+= 1
    }

    /// Builds an RTCP compound with `build` straight into an output slot, protects it (SRTCP)
    /// and queues it for `peer`.
    func sendRTCP(to peer: MediaPeer, out: OutputQueue, _ build: (UnsafeMutableRawBufferPointer) throws(WireError) -> Int) {
        guard let destination = peer.address, let srtp = peer.srtpOut else { return }
        let slot = out.nextSlot(lane: peer.lane)
        guard let n = try? build(UnsafeMutableRawBufferPointer(rebasing: slot[0..<(slot.count - 32)])),
              out.commitProtected(length: n, to: destination, lane: peer.lane, context: srtp, rtcp: true) else { return }
        counters.rtcpSent &+= 1
    }
}
