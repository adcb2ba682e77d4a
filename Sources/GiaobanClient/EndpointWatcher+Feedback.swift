import GiaobanWire

/// The RTCP a watcher sends and reads: Generic NACK (RFC 4585 §6.2.1) for missing video,
/// PLI (§6.3.1) when a frame cannot be decoded, receiver reports (RFC 3550 §6.4.2) about
/// every `reportInterval`; from the relay it reads sender reports (their NTP time is echoed
/// as LSR, with DLSR, so the relay can time the round trip).
extension EndpointWatcher {
    /// Sends the NACKs and the receiver report that are due at `now`.
    func sendFeedback(now: ContinuousClock.Instant) {
        let roundTrip = connection.peer.roundTripTime
        if let roundTrip {
            stats.roundTripMilliseconds = Double(roundTrip.components.attoseconds) * 1e-15 + Double(roundTrip.components.seconds) * 1000
        }
        nackScratch.removeAll(keepingCapacity: true)
        let buffer = videoBuffer
        let givenUp = nacks.due(now: now, roundTrip: roundTrip, isWanted: { !buffer.isSettled($0) }) { nackScratch.append($0) }
        if !nackScratch.isEmpty {
            let nack = GenericNACKBuilder(senderSSRC: senderSSRC, mediaSSRC: videoSSRC, lost: nackScratch)
            let sent = rtcpOut.withUnsafeMutableBytes { buffer in
                connection.sendRTCP(scratch: buffer) { out throws(WireError) in try nack.marshal(into: out) }
            }
            if sent > 0 {
                stats.nacksSent += 1
                stats.packetsNacked += nackScratch.count
                stats.bytesSent += sent
            }
        }
        if givenUp > 0 {
            stats.nacksGivenUp += givenUp
            requestKeyframe()
        }
        if now >= nextReport {
            nextReport = now + reportInterval
            sendReport(now: now)
        }
        if transportWide, now >= nextTransportFeedback, transportFeedback.hasPending,
           let feedback = transportFeedback.makeFeedback(senderSSRC: senderSSRC, mediaSSRC: videoSSRC) {
            nextTransportFeedback = now + .milliseconds(100)
            let sent = rtcpOut.withUnsafeMutableBytes { buffer in
                connection.sendRTCP(scratch: buffer) { out throws(WireError) in try feedback.marshal(into: out) }
            }
            if sent > 0 { stats.bytesSent += sent }
        }
        if transportWide, let cap = bandwidthCap, videoSSRC != 0, now >= nextEstimate {
            nextEstimate = now + .milliseconds(250)
            let remb = ReceiverEstimatedMaxBitrateBuilder(senderSSRC: senderSSRC, bitrate: UInt64(max(0, cap)), ssrcs: [videoSSRC])
            let sent = rtcpOut.withUnsafeMutableBytes { buffer in
                connection.sendRTCP(scratch: buffer) { out throws(WireError) in try remb.marshal(into: out) }
            }
            if sent > 0 { stats.bytesSent += sent }
        }
    }

    /// A receiver report with one block per stream that has sent something.
    func sendReport(now: ContinuousClock.Instant) {
        var blocks: [ReceptionReportBlock] = []
        if videoSSRC != 0 && videoBuffer.counters.inserted > 0 {
            let (lsr, dlsr) = lastSRFields(videoSSRC, now: now)
            let block = videoReception.reportBlock(ssrc: videoSSRC, lastSR: lsr, delaySinceLastSR: dlsr)
            stats.fractionLost = Double(block.fractionLost) / 256
            stats.videoJitterMilliseconds = Double(block.jitter) / 90
            blocks.append(block)
        }
        if audioSSRC != 0 && audioBuffer.counters.inserted > 0 {
            let (lsr, dlsr) = lastSRFields(audioSSRC, now: now)
            let block = audioReception.reportBlock(ssrc: audioSSRC, lastSR: lsr, delaySinceLastSR: dlsr)
            stats.audioJitterMilliseconds = Double(block.jitter) / 48
            blocks.append(block)
        }
        guard !blocks.isEmpty else { return }
        let rr = ReceiverReportBuilder(ssrc: senderSSRC, reports: blocks)
        let sent = rtcpOut.withUnsafeMutableBytes { buffer in
            connection.sendRTCP(scratch: buffer) { out throws(WireError) in try RTCPCompound.marshal(rr, into: out) }
        }
        if sent > 0 {
            stats.reportsSent += 1
            stats.bytesSent += sent
        }
    }

    /// LSR and DLSR for a block about `ssrc` (RFC 3550 §6.4.1): zeros before its first SR.
    private func lastSRFields(_ ssrc: UInt32, now: ContinuousClock.Instant) -> (UInt32, UInt32) {
        guard let sr = lastSR[ssrc] else { return (0, 0) }
        return (sr.compact, RoundTripTime.compactUnits(now - sr.at))
    }

    /// Reads an RTCP compound from the relay: sender reports are remembered for LSR/DLSR.
    func handleRTCP(_ bytes: UnsafeRawBufferPointer) {
        guard let compound = try? RTCPCompound(bytes, allowsPaddingBeforeLast: true) else { return }
        for packet in compound where packet.packetType == .senderReport {
            guard let sr = try? SenderReport(packet.bytes) else { continue }
            lastSR[sr.ssrc] = (RoundTripTime.compact(sr.ntpTimestamp), .now)
        }
    }

    /// Sends a PLI for the video source unless one went out less than `pliInterval` ago.
    func requestKeyframe() {
        let now = ContinuousClock.now
        if let lastPLI, now - lastPLI < pliInterval { return }
        guard connection.peer.state == .connected else { return }
        lastPLI = now
        let pli = PictureLossIndication(senderSSRC: senderSSRC, mediaSSRC: videoSSRC)
        let sent = rtcpOut.withUnsafeMutableBytes { buffer in
            connection.sendRTCP(scratch: buffer) { out throws(WireError) in try pli.marshal(into: out) }
        }
        if sent > 0 {
            stats.keyframesRequested += 1
            stats.bytesSent += sent
        }
    }
}
