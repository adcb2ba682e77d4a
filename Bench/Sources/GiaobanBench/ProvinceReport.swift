import Foundation

extension LatencySummary {
    /// Each percentile minus the same percentile of `floor` (what the relay adds on top of the
    /// client stack's own path, percentile by percentile).
    func minus(_ floor: LatencySummary) -> LatencySummary {
        var added = self
        added.p50 -= floor.p50
        added.p90 -= floor.p90
        added.p99 -= floor.p99
        added.p999 -= floor.p999
        added.max -= floor.max
        return added
    }
}

/// One step of a province run: N communes, each publishing and watching the chair.
struct ProvinceStep: Codable {
    /// Communes (each one WHIP publisher and one WHEP watcher of the chair).
    var communes: Int
    /// Communes watching the low encoding (a thumbnail) rather than the highest.
    var thumbnails: Int
    /// The chair → commune path through the relay, measured like a broadcast step
    /// (subscribers = communes; loss against the audio and the highest encoding).
    var figures: BroadcastStep
    /// `figures.latency` minus the direct reference's, percentile by percentile, µs.
    var relayAdded: LatencySummary?
    /// RTP packets per second the relay should receive (chair's three encodings and audio,
    /// every commune's video and audio) and send (the chair's audio and highest encoding to
    /// every commune).
    var nominalInPerSecond: Double
    var nominalOutPerSecond: Double
    /// Relay CPU per packet received or sent, µs.
    var cpuMicrosPerPacketInOut: Double?

    init(_ step: BroadcastStep, chair: MediaProfile, commune: MediaProfile, direct: BroadcastStep?, thumbnails: Int) {
        communes = step.subscribers
        self.thumbnails = thumbnails
        figures = step
        relayAdded = direct.map { step.latency.minus($0.latency) }
        let n = Double(step.subscribers)
        nominalInPerSecond = chair.videoPacketsPerSecond + chair.audioPacketsPerSecond
            + n * (commune.videoPacketsPerSecond + commune.audioPacketsPerSecond)
        let encodings = chair.encodings
        nominalOutPerSecond = n * chair.audioPacketsPerSecond + (n - Double(thumbnails)) * chair.packetsPerSecond(encodings[encodings.count - 1])
            + Double(thumbnails) * chair.packetsPerSecond(encodings[0])
        if let cpu = step.forwarderCPUPercent, let received = step.receivedPerSecond, let sent = step.forwardedPerSecond,
           received + sent > 0 {
            cpuMicrosPerPacketInOut = cpu / 100 / (received + sent) * 1e6
        }
    }
}

/// The whole province run, as written to JSON.
struct ProvinceReport: Codable {
    var command: String
    /// What the chair and each commune send.
    var chair: MediaProfile
    var commune: MediaProfile
    var warmupSeconds: Double
    var seconds: Double
    /// The SRTP profile the relay negotiated with the chair.
    var srtpProfile: String?
    /// The chair straight to one socket, no relay: the client stack's floor.
    var direct: BroadcastStep?
    /// The relay's resident memory before any peer, and with the chair alone, KiB.
    var relayIdleRSSKiB: Int?
    var relayChairRSSKiB: Int?
    /// The relay's CPU with the chair alone, % of one core.
    var relayChairOnlyCPUPercent: Double?
    /// Why the run stopped early, if it did.
    var relayError: String?
    /// Percent of the communes capped to the low encoding (thumbnails).
    var thumbnailPercent: Int
    var steps: [ProvinceStep]

    /// What the figures include, and where the machine rather than the relay was the limit.
    var notes: [String] {
        var lines = [
            "latency: chair send call → commune receive (SRTP both ways, loopback UDP, the relay, the one receive thread), "
                + "one CLOCK_MONOTONIC; added = that percentile minus the same percentile of the direct reference "
                + (direct.map { "(chair straight to one socket: p50 \(format($0.latency.p50)) µs, p99 \(format($0.latency.p99)) µs)" }
                    ?? "(not measured: --no-direct; the latency columns then include the client stack)"),
            "loss: unique chair packets of the audio and the highest encoding (a thumbnail's: the low one) missing per commune; in/out pkt/s: the relay's "
                + "giaoban_rtp_received_total and giaoban_rtp_forwarded_total (nominal: what the generator should produce); "
                + "µs/fwd: relay CPU (/proc utime+stime) per forwarded packet, µs/io: per packet received or sent; "
                + "kdrop r/g: datagrams the kernel dropped on full receive buffers of the relay's / this process's sockets; "
                + "KiB/commune: relay RSS growth over the chair alone per commune (a publisher and a watcher); "
                + "gen CPU %: this whole process (chair, commune publishers, receive thread), % of one core; rx CPU %: the receive thread.",
        ]
        let cores = Double(ProcessInfo.processInfo.activeProcessorCount) * 100
        for s in steps {
            let f = s.figures
            let relayCPU = f.forwarderCPUPercent ?? 0
            var limits: [String] = []
            if relayCPU + f.generatorCPUPercent > 0.85 * cores {
                limits.append("relay \(format(relayCPU.rounded())) % + generator \(format(f.generatorCPUPercent.rounded())) % of "
                    + "\(format(cores)) % CPU: the machine is saturated, latency includes waiting for a core")
            }
            if let rx = f.receiverCPUPercent, rx > 85 {
                limits.append("the receive thread is \(format(rx.rounded())) % busy: it, not the relay, sets the latency tail")
            }
            if (f.forwarderSocketDrops ?? 0) + (f.generatorSocketDrops ?? 0) > 0 {
                limits.append("the kernel dropped \(f.forwarderSocketDrops ?? 0) datagrams on the relay's socket and "
                    + "\(f.generatorSocketDrops ?? 0) on the generator's (a reader got no core for a while)")
            }
            if f.publisherMaxLateMicros > 10_000 {
                limits.append("the chair's sending thread woke up to \(format(Double(f.publisherMaxLateMicros / 100) / 10)) ms late")
            }
            if let received = f.receivedPerSecond, received < 0.97 * s.nominalInPerSecond {
                limits.append("the relay received \(format(received.rounded())) of \(format(s.nominalInPerSecond.rounded())) pkt/s: "
                    + "the generator did not send at full rate")
            }
            if !limits.isEmpty { lines.append("N=\(s.communes): " + limits.joined(separator: "; ")) }
        }
        return lines
    }
}

/// Formats the steps as an aligned table.
func provinceTable(_ report: ProvinceReport) -> String {
    alignedTable([
        ("communes", 8), ("thumbs", 6), ("in pkt/s", 9), ("(nominal)", 9), ("out pkt/s", 9), ("(nominal)", 9), ("p50 µs", 7), ("p90 µs", 7), ("p99 µs", 7),
        ("p99.9 µs", 8), ("max µs", 7), ("+p50", 6), ("+p99", 6), ("+p99.9", 7), ("loss %", 7), ("kdrop r/g", 9), ("µs/fwd", 7), ("µs/io", 6),
        ("relay %", 7), ("RSS MiB", 7), ("KiB/commune", 11), ("gen CPU %", 9), ("rx CPU %", 8), ("load", 5),
    ], rows: report.steps.map { s in
        let f = s.figures
        return [
            String(s.communes), String(s.thumbnails), cell(f.receivedPerSecond, 0), cell(s.nominalInPerSecond, 0),
            cell(f.forwardedPerSecond, 0), cell(s.nominalOutPerSecond, 0),
            cell(f.latency.p50, 0), cell(f.latency.p90, 0), cell(f.latency.p99, 0), cell(f.latency.p999, 0), cell(f.latency.max, 0),
            cell(s.relayAdded?.p50, 0), cell(s.relayAdded?.p99, 0), cell(s.relayAdded?.p999, 0), cell(f.lossPercent, 3),
            "\(f.forwarderSocketDrops.map(String.init) ?? "-")/\(f.generatorSocketDrops.map(String.init) ?? "-")",
            cell(f.cpuMicrosPerPacket, 2), cell(s.cpuMicrosPerPacketInOut, 2), cell(f.forwarderCPUPercent, 1),
            cell(f.relayRSSKiB.map { Double($0) / 1024 }, 1), cell(f.rssPerSubscriberKiB, 0), cell(f.generatorCPUPercent, 1),
            cell(f.receiverCPUPercent, 1), cell(f.loadAverage, 1),
        ]
    })
}

/// The province run as an SVG document: latency percentiles, CPU per packet, and who used
/// the machine's CPU (relay, generator, receive thread), each against the commune count.
func provinceSVG(_ report: ProvinceReport) -> String {
    func line(_ value: (ProvinceStep) -> Double?) -> [(x: Double, y: Double)] {
        report.steps.compactMap { s in value(s).map { (Double(s.communes), $0) } }
    }
    let counts = report.steps.map { Double($0.communes) }
    let span = counts.isEmpty ? [1.0] : [counts.first!, counts.last!]
    var latency = [
        PlotSeries(label: "p50", points: line { $0.figures.latency.p50 }, color: "#1f77b4"),
        PlotSeries(label: "p90", points: line { $0.figures.latency.p90 }, color: "#2ca02c"),
        PlotSeries(label: "p99", points: line { $0.figures.latency.p99 }, color: "#d62728"),
        PlotSeries(label: "p99.9", points: line { $0.figures.latency.p999 }, color: "#9467bd"),
    ]
    if let direct = report.direct {
        latency.append(PlotSeries(label: "direct p50", points: span.map { ($0, direct.latency.p50) }, color: "#555", dash: "2 3", markers: false))
        latency.append(PlotSeries(label: "direct p99", points: span.map { ($0, direct.latency.p99) }, color: "#aaa", dash: "2 3", markers: false))
    }
    let cpu = [
        PlotSeries(label: "per forwarded packet", points: line { $0.figures.cpuMicrosPerPacket }, color: "#2ca02c"),
        PlotSeries(label: "per packet in or out", points: line { $0.cpuMicrosPerPacketInOut }, color: "#17becf", dash: "6 4"),
    ]
    let load = [
        PlotSeries(label: "relay", points: line { $0.figures.forwarderCPUPercent }, color: "#2ca02c"),
        PlotSeries(label: "generator (all)", points: line { $0.figures.generatorCPUPercent }, color: "#ff7f0e"),
        PlotSeries(label: "receive thread", points: line { $0.figures.receiverCPUPercent }, color: "#8c564b", dash: "6 4"),
    ]
    let x = "communes (log scale)"
    let panels = [
        PlotPanel(title: "Latency, chair send → commune receive", yLabel: "µs (log scale)", series: latency, logY: true, xTicks: counts, xLabel: x),
        PlotPanel(title: "Relay CPU per packet", yLabel: "µs of CPU per packet", series: cpu, logY: false, xTicks: counts, xLabel: x),
        PlotPanel(title: "CPU use, % of one core", yLabel: "%", series: load, logY: false, xTicks: counts, xLabel: x),
    ]
    let rates = report.chair.encodings.map { String($0.bitrate / 1000) }.joined(separator: "/")
    let note = "giaoban-bench province, \(format(report.seconds)) s per step; chair simulcast \(rates) kbit/s + audio; "
        + "communes \(report.commune.videoBitrate / 1000) kbit/s + audio each"
    return svgDocument(panels, note: note)
}
