/// Which video layer each subscriber receives: the highest that both its requested maximum
/// (a thumbnail or the main view) and its bandwidth estimate allow. Down at once, up only
/// after the higher layer has fitted for `layerUpDelay`; every switch waits for a keyframe
/// of the new layer (requested, throttled per layer). When even the lowest layer does not
/// fit, the subscriber's video pauses; audio is never paused.
extension MediaRouter {
    /// A duration in microseconds.
    static func microseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
    }

    func chooseLayers(now: ContinuousClock.Instant, out: OutputQueue) {
        for stream in streams.values where stream.publisher?.setup.video != nil && !stream.subscribers.isEmpty && !stream.videoGated {
            for layer in stream.layers { layer.updateBitrate(now: now) }
            if stream.isSimulcast { stream.rank() }
            for subscriber in stream.subscribers where subscriber.setup.video != nil && subscriber.isReady {
                chooseLayer(for: subscriber, in: stream, now: now, out: out)
            }
        }
    }

    func chooseLayer(for subscriber: MediaPeer, in stream: RelayStream, now: ContinuousClock.Instant, out: OutputQueue) {
        // Without simulcast and without an estimate there is nothing to choose.
        let estimate = subscriber.linkEstimate
        if !stream.isSimulcast && estimate == nil { return }
        let active = stream.ranked.filter { stream.layers[$0].isActive(now: now) }
        guard !active.isEmpty else { return }
        let allowed = active.prefix(min(active.count, subscriber.maxLayerRank == Int.max ? active.count : subscriber.maxLayerRank + 1))
        var choice = allowed.last ?? -1
        if let estimate {
            let reserve = subscriber.setup.audio != nil ? settings.audioReserve : 0
            choice = allowed.last { stream.layers[$0].bitrate <= estimate - reserve } ?? -1
            // Probing: after a calm while, try the next layer up (the media is the probe);
            // congestion that follows brings the estimate, and the layer, back down.
            let position = choice < 0 ? -1 : allowed.firstIndex(of: choice) ?? -1
            // A REMB the next layer does not fit is the subscriber's own limit: no probe past it.
            if position + 1 < allowed.count, var bandwidth = subscriber.bandwidth,
               bandwidth.isCalm(now: microseconds(now), quiet: Self.microseconds(settings.layerUpDelay)) {
                let next = allowed[allowed.startIndex + position + 1]
                let needed = stream.layers[next].bitrate
                if (subscriber.estimate ?? .max) - reserve >= needed {
                    bandwidth.probe(to: needed * 11 / 10 + reserve)
                    subscriber.bandwidth = bandwidth
                    if bandwidth.estimate - reserve >= needed { choice = next }
                }
            }
        }
        let wanted = stream.rank(of: subscriber.targetLayer)
        let chosen = stream.rank(of: choice)
        if chosen > wanted && subscriber.layerSwitches > 0 {
            // Up: only once the higher layer has fitted for a while (no flapping on one report).
            let since = subscriber.upSince ?? now
            subscriber.upSince = since
            guard now - since >= settings.layerUpDelay else { return }
        }
        subscriber.upSince = nil
        if choice != subscriber.targetLayer {
            subscriber.targetLayer = choice
            if choice < 0 {
                subscriber.layer = -1
                counters.videoPauses &+= 1
            }
        }
        if subscriber.targetLayer >= 0 && subscriber.layer != subscriber.targetLayer {
            requestKeyframe(stream, layer: subscriber.targetLayer, now: now, out: out)
        }
    }
}
