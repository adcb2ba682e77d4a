public import GiaobanWire
public import GiaobanCrypto

/// The peer table: peers negotiated by the control plane come and go, and the events that tell it so.
extension MediaRouter {
    /// Adds a peer negotiated by the control plane; a client-role DTLS peer starts its
    /// handshake once ICE nominates an address.
    public func addPeer(_ setup: PeerSetup, now: ContinuousClock.Instant) throws(DTLSError) {
        removePeer(id: setup.id, reason: "replaced", out: nil)
        switch setup.role {
        case .publisher:
            let stream = relayStream(setup.stream)
            let peer = try MediaPeer(setup: setup, published: stream, dtlsContext: dtlsContext, now: now)
            register(peer)
            if let old = stream.publisher { removePeer(id: old.setup.id, reason: "replaced by a new publisher", out: nil) }
            stream.publisher = peer
            stream.adopt(setup)
            // Watchers stay; their streams continue from the new publisher without a gap.
            for subscription in stream.subscribers {
                subscription.videoOut.expectNewSource(timestampGap: 3000)
                subscription.audioOut.expectNewSource(timestampGap: 960)
            }
            // After the replacement: removing the only peer of a stream removed the stream from the table.
            streams[setup.stream] = stream
        case .subscriber:
            let peer = try MediaPeer(setup: setup, published: nil, dtlsContext: dtlsContext, now: now)
            register(peer)
            // A WHEP peer receives its one stream; a downlink (no stream) gets its subscriptions later.
            if !setup.stream.isEmpty {
                let subscription = subscribe(peer, to: setup.stream, audio: setup.audio, video: setup.video)
                if let rank = setup.layerRank {
                    subscription.pinnedLayerRank = max(0, rank)
                    subscription.maxLayerRank = max(0, rank)
                }
            }
        }
    }

    /// The stream named `name`, or a new one (not yet in the table).
    func relayStream(_ name: String) -> RelayStream {
        streams[name] ?? RelayStream(name: name, cacheSize: settings.packetCacheSize, cacheBytes: settings.packetCacheBytes)
    }

    /// Files the peer and gives it its egress lane: a subscriber takes the lane with the fewest
    /// subscribers (on a tie the highest, as lane 0 is also the media thread's own); a publisher,
    /// whose egress is a little RTCP, stays on lane 0. A meeting's uplinks and downlinks come in
    /// pairs, so taking lanes in turn would put every downlink on the same lanes.
    func register(_ peer: MediaPeer) {
        if peer.setup.role == .subscriber && settings.egressLanes > 1 {
            if laneSubscribers.count != settings.egressLanes { laneSubscribers = Array(repeating: 0, count: settings.egressLanes) }
            var lane = laneSubscribers.count - 1
            for candidate in laneSubscribers.indices.reversed() where laneSubscribers[candidate] < laneSubscribers[lane] {
                lane = candidate
            }
            peer.lane = lane
            laneSubscribers[lane] += 1
        }
        peers[peer.setup.id] = peer
        peersByUfrag[peer.setup.localICE.ufrag] = peer
    }

    /// Removes a peer (DELETE of its session, or a timeout); sends a DTLS close_notify if `out` is given.
    public func removePeer(id: String, reason: String, out: OutputQueue?) {
        guard let peer = peers.removeValue(forKey: id) else { return }
        if peer.setup.role == .subscriber && peer.lane < laneSubscribers.count { laneSubscribers[peer.lane] -= 1 }
        if let out, let address = peer.address {
            for datagram in peer.dtls.close() { datagram.withUnsafeBytes { out.enqueue($0, to: address, lane: peer.lane) } }
        }
        if peersByUfrag[peer.ice.local.ufrag] === peer { peersByUfrag.removeValue(forKey: peer.ice.local.ufrag) }
        if let address = peer.address, peersByAddress[address] === peer { peersByAddress.removeValue(forKey: address) }
        if let stream = peer.published {
            if stream.publisher === peer { stream.publisher = nil }
            dropIfUnused(stream)
        }
        for subscription in peer.subscriptions { unsubscribe(subscription) }
        peer.subscriptions.removeAll()
        peer.ended.removeAll()
        events.append(.removed(peer: id, reason: reason))
    }

    /// Ends every peer (see `MediaCommand.removeAllPeers`): a BYE naming the SSRCs each
    /// receiver gets from the relay (at most 31 per packet), then the DTLS close_notify.
    public func removeAllPeers(reason: String, out: OutputQueue) {
        for id in Array(peers.keys) {
            guard let peer = peers[id] else { continue }
            var sources: [UInt32] = []
            for subscription in peer.subscriptions {
                if let video = subscription.video { sources.append(video.ssrc) }
                if let audio = subscription.audio { sources.append(audio.ssrc) }
            }
            if !sources.isEmpty {
                let report = ReceiverReportBuilder(ssrc: peer.relaySSRC)
                let bye = GoodbyeBuilder(sources: Array(sources.prefix(31)), reason: Array(reason.utf8.prefix(255)))
                sendRTCP(to: peer, out: out) { slot throws(WireError) in try RTCPCompound.marshal(report, bye, into: slot) }
            }
            removePeer(id: id, reason: reason, out: out)
        }
    }

    /// The number of peers.
    public var peerCount: Int { peers.count }

    /// Returns and clears the events since the last call.
    public func drainEvents() -> [MediaEvent] {
        // Most loop turns have none: returning the shared buffer and then emptying it would
        // copy it on every turn.
        guard !events.isEmpty else { return [] }
        defer { events.removeAll(keepingCapacity: true) }
        return events
    }

    /// The DTLS fingerprint peer `id` must present (an ICE restart may not change it).
    public func remoteFingerprint(peer id: String) -> CertificateFingerprint? { peers[id]?.setup.remoteFingerprint }

    /// True when a peer with `id` exists.
    public func hasPeer(id: String) -> Bool { peers[id] != nil }

    /// Forgets `address` as a path: the TCP connection it names closed (ICE-TCP). A peer whose
    /// media went there gets nothing (nothing is protected for it either) until it nominates
    /// another path, or its consent expires.
    public func pathClosed(_ address: STUNAddress) {
        guard let peer = peersByAddress.removeValue(forKey: address) else { return }
        if peer.address == address { peer.address = nil }
    }
}
