/// Which video layer each subscription receives. A connection's link estimate is shared out
/// among the videos it receives (one for WHEP, many on a meeting's downlink): every video first
/// gets its lowest layer, then the highest caps (the main view before thumbnails) are raised as
/// far as the estimate allows. Down at once, up only after the higher layer has fitted for
/// `layerUpDelay`; every switch waits for a keyframe of the new layer (requested, throttled per
/// layer). A video that does not fit at all pauses, only when the relay's own estimate says so
/// where there is one (`keepLowestLayers`); audio is never paused.
extension MediaRouter {
    /// A duration in microseconds.
    static func microseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
    }

    func chooseLayers(now: ContinuousClock.Instant, out: OutputQueue) {
        // Measured with or without watchers: a WHEP answer tells a child relay what each layer costs.
        for stream in streams.values where stream.publisher?.setup.video != nil && !stream.policy.videoGated {
            for layer in stream.layers { layer.updateBitrate(now: now) }
            if stream.isSimulcast { stream.rank() }
        }
        for peer in peers.values where peer.setup.role == .subscriber && peer.isReady && !peer.subscriptions.isEmpty {
            chooseLayers(for: peer, now: now, out: out)
        }
    }

    /// One video subscription's choice: the layers it may take (active, up to its cap, lowest
    /// first) and the position chosen among them (-1: paused).
    struct LayerPlan {
        let subscription: Subscription
        let allowed: [Int]
        var position: Int
    }

    func chooseLayers(for peer: MediaPeer, now: ContinuousClock.Instant, out: OutputQueue) {
        let estimate = peer.linkEstimate
        var plans: [LayerPlan] = []
        for subscription in peer.subscriptions where subscription.video != nil {
            let stream = subscription.stream
            guard stream.publisher?.setup.video != nil, !stream.policy.videoGated else { continue }
            // A trunk pulling one layer takes exactly that one, paused while the publisher sends fewer.
            let pinned = subscription.pinnedLayerRank
            if !stream.isSimulcast, let pinned {
                if pinned > 0 { apply(-1, to: subscription, now: now, out: out) }
                continue
            }
            // Without simulcast and without an estimate there is nothing to choose.
            if !stream.isSimulcast && estimate == nil { continue }
            let active = stream.ranked.filter { stream.layers[$0].isActive(now: now) }
            if let pinned {
                apply(pinned < active.count ? active[pinned] : -1, to: subscription, now: now, out: out)
                continue
            }
            guard !active.isEmpty else { continue }
            let cap = subscription.maxLayerRank == Int.max ? active.count : min(active.count, subscription.maxLayerRank + 1)
            let allowed = Array(active.prefix(cap))
            plans.append(LayerPlan(subscription: subscription, allowed: allowed, position: allowed.count - 1))
        }
        guard !plans.isEmpty else { return }
        if let estimate {
            let reserve = peer.subscriptions.contains { $0.audio != nil } ? settings.audioReserve : 0
            share(estimate - reserve, among: &plans)
            probe(peer, plans: &plans, reserve: reserve, now: now)
            keepLowestLayers(peer, plans: &plans, reserve: reserve)
        }
        for plan in plans {
            let choice = plan.position < 0 ? -1 : plan.allowed[plan.position]
            apply(choice, to: plan.subscription, now: now, out: out)
        }
    }

    /// The bit rate of a plan's layer at `position` (0 for none).
    static func bitrate(_ plan: LayerPlan, at position: Int) -> Int {
        position < 0 ? 0 : plan.subscription.stream.layers[plan.allowed[position]].bitrate
    }

    /// The order in which videos are served: the highest cap (the main view) first, then the
    /// order they were subscribed in.
    static func priority(caps: [Int]) -> [Int] {
        caps.indices.sorted { caps[$0] != caps[$1] ? caps[$0] > caps[$1] : $0 < $1 }
    }

    static func priority(_ plans: [LayerPlan]) -> [Int] { priority(caps: plans.map(\.subscription.maxLayerRank)) }

    /// Shares `budget` (bit/s) out among videos whose allowed layers cost `bitrates` (per
    /// video, lowest layer first) and whose caps are `caps` (layer ranks, `Int.max` for none):
    /// the lowest layer of each video in priority order while it fits, then each video in
    /// priority order up to the highest layer the rest allows. Returns the position chosen
    /// per video (-1: paused).
    public static func share(_ budget: Int, bitrates: [[Int]], caps: [Int]) -> [Int] {
        var left = budget
        var positions = [Int](repeating: -1, count: bitrates.count)
        let order = priority(caps: caps)
        for i in order where !bitrates[i].isEmpty && bitrates[i][0] <= left {
            positions[i] = 0
            left -= bitrates[i][0]
        }
        for i in order where positions[i] >= 0 {
            let current = bitrates[i][positions[i]]
            if let best = (positions[i]..<bitrates[i].count).last(where: { bitrates[i][$0] - current <= left }) {
                left -= bitrates[i][best] - current
                positions[i] = best
            }
        }
        return positions
    }

    func share(_ budget: Int, among plans: inout [LayerPlan]) {
        let bitrates = plans.map { plan in plan.allowed.indices.map { Self.bitrate(plan, at: $0) } }
        let positions = Self.share(budget, bitrates: bitrates, caps: plans.map(\.subscription.maxLayerRank))
        for i in plans.indices { plans[i].position = positions[i] }
    }

    /// Probing: after a calm while, the first video in priority order that could go one layer
    /// up asks the estimator to try the total that would need (the media is the probe);
    /// congestion that follows brings the estimate, and the layer, back down. A REMB the
    /// total does not fit is the subscriber's own limit: no probe past it.
    func probe(_ peer: MediaPeer, plans: inout [LayerPlan], reserve: Int, now: ContinuousClock.Instant) {
        guard var bandwidth = peer.bandwidth,
              bandwidth.isCalm(now: microseconds(now), quiet: Self.microseconds(settings.layerUpDelay)) else { return }
        guard let i = Self.priority(plans).first(where: { plans[$0].position + 1 < plans[$0].allowed.count }) else { return }
        let total = plans.indices.reduce(0) { $0 + Self.bitrate(plans[$1], at: plans[$1].position) }
        let needed = total - Self.bitrate(plans[i], at: plans[i].position) + Self.bitrate(plans[i], at: plans[i].position + 1)
        guard (peer.estimate ?? .max) - reserve >= needed else { return }
        bandwidth.probe(to: needed * 11 / 10 + reserve)
        peer.bandwidth = bandwidth
        if bandwidth.estimate - reserve >= needed { plans[i].position += 1 }
    }

    /// A video is not paused on the subscriber's REMB alone: a receiver's estimate follows what
    /// it receives (Chrome's stays under 1.5 × its incoming rate), so a video paused on a
    /// passing dip lowers it further and would never come back (seen: a Chrome downlink's REMB
    /// falling from 950 kbit/s to 6 kbit/s once two videos were paused). A paused video keeps
    /// (or gets back) its lowest layer while the relay's own send-side estimate (transport-wide
    /// feedback, which grows again without the media) has room for it. Without that estimate a
    /// video of one layer is kept all the same; a simulcast one pauses on the REMB, as before
    /// (its lowest layer is the receiver's way to ask for less).
    func keepLowestLayers(_ peer: MediaPeer, plans: inout [LayerPlan], reserve: Int) {
        let own = peer.bandwidth.flatMap { $0.feedbacks > 0 ? $0.estimate - reserve : nil }
        var used = plans.indices.reduce(0) { $0 + Self.bitrate(plans[$1], at: plans[$1].position) }
        for i in plans.indices where plans[i].position < 0 {
            guard let room = own ?? (plans[i].subscription.stream.isSimulcast ? nil : .max) else { continue }
            let lowest = Self.bitrate(plans[i], at: 0)
            if used + lowest <= room {
                plans[i].position = 0
                used += lowest
            }
        }
    }

    /// Moves a subscription towards layer `choice`: down at once, up after `layerUpDelay`,
    /// on the new layer's keyframe (asked for).
    func apply(_ choice: Int, to subscription: Subscription, now: ContinuousClock.Instant, out: OutputQueue) {
        let stream = subscription.stream
        let wanted = stream.rank(of: subscription.targetLayer)
        let chosen = stream.rank(of: choice)
        if chosen > wanted && subscription.layerSwitches > 0 {
            // Up: only once the higher layer has fitted for a while (no flapping on one report).
            let since = subscription.upSince ?? now
            subscription.upSince = since
            guard now - since >= settings.layerUpDelay else { return }
        }
        subscription.upSince = nil
        if choice != subscription.targetLayer {
            subscription.targetLayer = choice
            if choice < 0 {
                subscription.layer = -1
                counters.videoPauses &+= 1
            }
        }
        if subscription.targetLayer >= 0 && subscription.layer != subscription.targetLayer {
            requestKeyframe(stream, layer: subscription.targetLayer, now: now, out: out)
        }
    }
}
