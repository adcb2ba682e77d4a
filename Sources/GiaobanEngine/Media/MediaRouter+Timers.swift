public import GiaobanWire

extension MediaRouter {
    /// Drives everything time-based; call every few milliseconds. DTLS retransmissions,
    /// handshake and consent timeouts (RFC 7675), pending keyframe requests, the relay's
    /// RTCP reports (RFC 3550 §6.4: SR to subscribers, RR to publishers), and the stream
    /// groups' active speaker and gates.
    public func tick(now: ContinuousClock.Instant, wallClock: UInt64, out: OutputQueue) {
        var expired: [(String, String)] = []
        for peer in peers.values {
            if peer.setup.local { continue }  // fed by the server itself: no ICE, DTLS or RTCP
            if peer.ice.consentExpired(now: now) {
                counters.consentExpired &+= 1
                expired.append((peer.setup.id, "consent expired (no ICE check for 30 s)"))
                continue
            }
            if peer.connectedAt == nil {
                if now - peer.created > settings.handshakeTimeout {
                    expired.append((peer.setup.id, peer.address == nil ? "no ICE check before the timeout" : "DTLS handshake timed out"))
                    continue
                }
                if let deadline = peer.dtls.nextTimeout, deadline <= now {
                    apply(peer.dtls.handleTimeout(now: now), to: peer, now: now, out: out)
                }
            } else {
                if now >= peer.nextReport {
                    peer.nextReport = now + settings.reportInterval
                    sendReports(to: peer, now: now, wallClock: wallClock, out: out)
                }
                if now >= peer.nextTransportFeedback {
                    peer.nextTransportFeedback = now + settings.transportFeedbackInterval
                    sendTransportFeedback(to: peer, out: out)
                }
            }
        }
        for (id, reason) in expired { removePeer(id: id, reason: reason, out: out) }
        for stream in streams.values {
            let layers = stream.layers
            for index in 0..<layers.count where layers[index].nacks.pendingCount > 0 {
                requestLost(stream, layer: index, now: now, out: out)
            }
            for index in 0..<layers.count where layers[index].keyframeRequestPending {
                requestKeyframe(stream, layer: index, now: now, out: out)
            }
        }
        if now >= nextLayerChoice {
            nextLayerChoice = now + settings.layerChoiceInterval
            chooseLayers(now: now, out: out)
        }
        runGroups(now: now, out: out)
    }

    /// A receiver report to a publisher (our reception of its streams), or a sender report
    /// per kind to a subscriber (what we sent, with the publisher's timing carried over).
    func sendReports(to peer: MediaPeer, now: ContinuousClock.Instant, wallClock: UInt64, out: OutputQueue) {
        switch peer.setup.role {
        case .publisher:
            guard let stream = peer.published else { return }
            var blocks: [ReceptionReportBlock] = []
            for layer in stream.layers where layer.ssrc != 0 {
                let (lsr, dlsr) = Self.lastSRFields(layer.lastSR, now: now)
                blocks.append(layer.reception.reportBlock(ssrc: layer.ssrc, lastSR: lsr, delaySinceLastSR: dlsr))
            }
            if peer.audioSSRC != 0 {
                let (lsr, dlsr) = Self.lastSRFields(stream.lastAudioSR, now: now)
                blocks.append(stream.audioReception.reportBlock(ssrc: peer.audioSSRC, lastSR: lsr, delaySinceLastSR: dlsr))
            }
            guard !blocks.isEmpty else { return }
            let rr = ReceiverReportBuilder(ssrc: peer.relaySSRC, reports: blocks)
            sendRTCP(to: peer, out: out) { slot throws(WireError) in try RTCPCompound.marshal(rr, into: slot) }
        case .subscriber:
            for subscription in peer.subscriptions {
                sendReports(for: subscription, wallClock: wallClock, out: out)
            }
        }
    }

    /// A sender report per kind for one subscription: what was sent, with the publisher's
    /// NTP↔RTP pair renumbered (lip sync); before its first SR, the last timestamp sent is
    /// paired with the wall clock.
    func sendReports(for subscription: Subscription, wallClock: UInt64, out: OutputQueue) {
        let stream = subscription.stream
        if let video = subscription.video, subscription.videoSent.packets > 0 {
            let layer = subscription.layer
            let forwarded = layer >= 0 && layer < stream.layers.count ? stream.layers[layer].lastSR : nil
            let timing = forwarded.map { ($0.ntp, subscription.videoOut.outputTimestamp(forInput: $0.rtp)) }
                ?? (wallClock, subscription.videoOut.lastOutputTimestamp)
            let sr = SenderReportBuilder(ssrc: video.ssrc, ntpTimestamp: timing.0, rtpTimestamp: timing.1,
                                          packetCount: subscription.videoSent.packets, octetCount: subscription.videoSent.octets)
            sendRTCP(to: subscription.peer, out: out) { slot throws(WireError) in try RTCPCompound.marshal(sr, into: slot) }
        }
        if let audio = subscription.audio, subscription.audioSent.packets > 0 {
            let timing = stream.lastAudioSR.map { ($0.ntp, subscription.audioOut.outputTimestamp(forInput: $0.rtp)) }
                ?? (wallClock, subscription.audioOut.lastOutputTimestamp)
            let sr = SenderReportBuilder(ssrc: audio.ssrc, ntpTimestamp: timing.0, rtpTimestamp: timing.1,
                                          packetCount: subscription.audioSent.packets, octetCount: subscription.audioSent.octets)
            sendRTCP(to: subscription.peer, out: out) { slot throws(WireError) in try RTCPCompound.marshal(sr, into: slot) }
        }
    }

    /// Transport-wide feedback to a publisher that negotiated it: what arrived since the last one.
    func sendTransportFeedback(to peer: MediaPeer, out: OutputQueue) {
        guard peer.transportFeedback.hasPending, let stream = peer.published else { return }
        let video = stream.layers.first?.ssrc ?? 0
        let media = video != 0 ? video : peer.audioSSRC
        guard let feedback = peer.transportFeedback.makeFeedback(senderSSRC: peer.relaySSRC, mediaSSRC: media) else { return }
        let rr = ReceiverReportBuilder(ssrc: peer.relaySSRC)
        sendRTCP(to: peer, out: out) { slot throws(WireError) in try RTCPCompound.marshal(rr, feedback, into: slot) }
    }

    /// LSR (middle 32 bits of the last SR's NTP time) and DLSR (delay since, in 1/65536 s)
    /// for a report block (RFC 3550 §6.4.1).
    static func lastSRFields(_ sr: (ntp: UInt64, rtp: UInt32, at: ContinuousClock.Instant)?,
                             now: ContinuousClock.Instant) -> (UInt32, UInt32) {
        guard let sr else { return (0, 0) }
        let delay = now - sr.at
        let units = Double(delay.components.seconds) * 65_536 + Double(delay.components.attoseconds) * 65_536e-18
        return (UInt32(truncatingIfNeeded: sr.ntp >> 16), UInt32(clamping: Int64(units)))
    }
}

extension MediaRouter {
    /// The shortest time between two NACKs for the same packet to a publisher: a round trip
    /// on a provincial WAN, so that a retransmission on its way is not asked for again.
    static let upstreamNACKInterval: Duration = .milliseconds(100)

    /// Asks the publisher of `stream` again for the packets of layer `index` that were lost on
    /// the way in and are due (Generic NACK, RFC 4585 §6.2.1: at once, then every
    /// `upstreamNACKInterval`, three times); what is given up turns into a keyframe request.
    /// Watchers get a recovered packet late, renumbered like the others, and the packet cache
    /// has it for their own NACKs.
    func requestLost(_ stream: RelayStream, layer index: Int, now: ContinuousClock.Instant, out: OutputQueue) {
        let layer = stream.layers[index]
        guard let publisher = stream.publisher, publisher.isReady, layer.ssrc != 0 else { return }
        var lost: [UInt16] = []
        let givenUp = layer.nacks.due(now: now, roundTrip: nil) { lost.append($0) }
        if !lost.isEmpty {
            let rr = ReceiverReportBuilder(ssrc: publisher.relaySSRC)
            let nack = GenericNACKBuilder(senderSSRC: publisher.relaySSRC, mediaSSRC: layer.ssrc, lost: lost)
            sendRTCP(to: publisher, out: out) { slot throws(WireError) in try RTCPCompound.marshal(rr, nack, into: slot) }
            counters.upstreamNACKs &+= lost.count
        }
        if givenUp > 0 {
            counters.upstreamGivenUp &+= givenUp
            layer.keyframeRequestPending = true
        }
    }
}
