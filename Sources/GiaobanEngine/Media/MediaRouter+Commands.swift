/// The control plane's commands and queries, executed on the media thread.
extension MediaRouter {
    /// Executes `command` at `now`; returns why it failed, nil when it did what it asked.
    @discardableResult
    public func apply(_ command: MediaCommand, now: ContinuousClock.Instant, out: OutputQueue) -> MediaFailure? {
        switch command {
        case .addPeer(let setup):
            do { try addPeer(setup, now: now) } catch { return .dtls(error) }
        case .removePeer(let id, let reason):
            removePeer(id: id, reason: reason, out: out)
        case .removeAllPeers(let reason):
            removeAllPeers(reason: reason, out: out)
        case .setAudioMuted(let stream, let muted):
            guard setAudioMuted(stream: stream, muted) else { return .noStream(stream) }
        case .setAudioGates(let gates):
            for (stream, gated) in gates { setAudioGated(stream: stream, gated) }
        case .setVideoGates(let gates):
            var failure: MediaFailure?
            for (stream, gated) in gates where !setVideoGated(stream: stream, gated, now: now, out: out) {
                failure = .noStream(stream)
            }
            return failure
        case .setMaxLayer(let peer, let stream, let rank):
            guard setMaxLayer(peer: peer, stream: stream, rank: rank) else { return .noPeer(peer) }
        case .restartICE(let peer, let local, let remote, let fingerprint):
            guard let known = remoteFingerprint(peer: peer) else { return .noPeer(peer) }
            guard known == fingerprint else { return .fingerprintChanged(peer: peer) }
            restartICE(peer: peer, local: local, remote: remote)
        case .setSubscriptions(let latest):
            for entry in latest.read() { setSubscriptions(peer: entry.peer, entry.subscriptions, now: now, out: out) }
        case .answerDownlink(let setup, let create, let restart, let latest):
            if create {
                do { try addPeer(setup, now: now) } catch { return .dtls(error) }
            } else if !hasPeer(id: setup.id) {
                return .noPeer(setup.id)
            } else if restart {
                restartICE(peer: setup.id, local: setup.localICE, remote: setup.remoteICE)
            }
            for entry in latest.read() { setSubscriptions(peer: entry.peer, entry.subscriptions, now: now, out: out) }
        case .startMix(let stream, let tracks, let keyframeRequested, let sources, let audio, let video):
            setLocalStream(stream, tracks: tracks, keyframeRequested: keyframeRequested)
            for source in sources { addSinks(stream: source, audio: audio, video: video) }
        case .stopMix(let stream, let audio, let video):
            removeSinks(audio: audio, video: video)
            setLocalStream(stream, tracks: nil)
        case .addSinks(let streams, let audio, let video):
            for stream in streams { addSinks(stream: stream, audio: audio, video: video) }
        case .removeSinks(let audio, let video):
            removeSinks(audio: audio, video: video)
        case .setGroup(let id, let settings):
            setGroup(id: id, settings: settings)
        case .setGroupMembers(let id, let streams):
            guard setGroupMembers(id: id, streams: streams, now: now, out: out) else { return .noGroup(id) }
        case .removeGroup(let id):
            removeGroup(id: id, now: now, out: out)
        case .setUpstream(let name, let keyframeRequested):
            guard let stream = streams[name], stream.publisher?.setup.local == true else { return .noStream(name) }
            stream.keyframeRequested = keyframeRequested
        }
        return nil
    }

    /// Answers `query` from the router's current state.
    public func answer<Answer>(_ query: MediaQuery<Answer>) -> Answer { query.answer(self) }
}
