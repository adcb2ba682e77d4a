import Foundation

/// One line of a plot: points (subscribers, value), a color and a dash pattern.
struct PlotSeries {
    var label: String
    var points: [(x: Double, y: Double)]
    var color: String
    var dash: String?
    var markers = true
}

/// One panel of an SVG plot: x is the subscriber count on a log scale; y is log or linear.
struct PlotPanel {
    var title: String
    var yLabel: String
    var series: [PlotSeries]
    var logY: Bool
    var xTicks: [Double]
    var xLabel = "subscribers (log scale)"

    static let width = 900.0, height = 380.0
    static let left = 70.0, right = 210.0, top = 40.0, bottom = 50.0

    /// The panel as SVG elements, drawn with its top edge at `offset`.
    func svg(offset: Double) -> String {
        let xs = series.flatMap { $0.points.map(\.x) } + xTicks
        let ys = series.flatMap { $0.points.map(\.y) }.filter { $0.isFinite && (!logY || $0 > 0) }
        guard let xMin0 = xs.min(), let xMax0 = xs.max(), let yMin0 = ys.min(), let yMax0 = ys.max() else {
            return "<text x=\"\(Self.left)\" y=\"\(offset + Self.top)\">\(title): no data</text>\n"
        }
        let (xMin, xMax) = xMin0 == xMax0 ? (xMin0 / 2, xMax0 * 2) : (xMin0, xMax0)
        let (yMin, yMax): (Double, Double) = logY
            ? (yMin0 / 1.5, yMax0 * 1.5)
            : (0, yMax0 > 0 ? yMax0 * 1.15 : 1)
        let plotWidth = Self.width - Self.left - Self.right, plotHeight = Self.height - Self.top - Self.bottom
        func px(_ x: Double) -> Double { Self.left + (log10(x) - log10(xMin)) / (log10(xMax) - log10(xMin)) * plotWidth }
        func py(_ y: Double) -> Double {
            let t = logY ? (log10(max(y, yMin)) - log10(yMin)) / (log10(yMax) - log10(yMin)) : (y - yMin) / (yMax - yMin)
            return offset + Self.top + (1 - t) * plotHeight
        }
        var out = "<text x=\"\(Self.left)\" y=\"\(f(offset + 24))\" font-size=\"15\" font-weight=\"bold\">\(escape(title))</text>\n"
        out += "<rect x=\"\(Self.left)\" y=\"\(f(offset + Self.top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" fill=\"none\" stroke=\"#444\"/>\n"
        for tick in xTicks {
            let x = px(tick)
            out += "<line x1=\"\(f(x))\" y1=\"\(f(offset + Self.top))\" x2=\"\(f(x))\" y2=\"\(f(offset + Self.height - Self.bottom))\" stroke=\"#ddd\"/>\n"
            out += "<text x=\"\(f(x))\" y=\"\(f(offset + Self.height - Self.bottom + 18))\" text-anchor=\"middle\">\(format(tick))</text>\n"
        }
        out += "<text x=\"\(f(Self.left + plotWidth / 2))\" y=\"\(f(offset + Self.height - 8))\" text-anchor=\"middle\">\(escape(xLabel))</text>\n"
        for tick in yTicks(yMin, yMax) {
            let y = py(tick)
            out += "<line x1=\"\(Self.left)\" y1=\"\(f(y))\" x2=\"\(f(Self.left + plotWidth))\" y2=\"\(f(y))\" stroke=\"#eee\"/>\n"
            out += "<text x=\"\(f(Self.left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(format(tick))</text>\n"
        }
        out += "<text transform=\"translate(16,\(f(offset + Self.top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">\(escape(yLabel))</text>\n"
        var drawn = 0
        for s in series {
            let points = s.points.filter { $0.y.isFinite && (!logY || $0.y > 0) }
            guard !points.isEmpty else { continue }
            defer { drawn += 1 }
            let dash = s.dash.map { " stroke-dasharray=\"\($0)\"" } ?? ""
            let path = points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            out += "<polyline points=\"\(path)\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2\"\(dash)/>\n"
            if s.markers {
                for p in points { out += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3\" fill=\"\(s.color)\"/>\n" }
            }
            let ly = offset + Self.top + 14 + Double(drawn) * 20, lx = Self.width - Self.right + 14
            out += "<line x1=\"\(f(lx))\" y1=\"\(f(ly - 4))\" x2=\"\(f(lx + 28))\" y2=\"\(f(ly - 4))\" stroke=\"\(s.color)\" stroke-width=\"2\"\(dash)/>\n"
            out += "<text x=\"\(f(lx + 34))\" y=\"\(f(ly))\">\(escape(s.label))</text>\n"
        }
        return out
    }

    private func yTicks(_ low: Double, _ high: Double) -> [Double] {
        if logY {
            var ticks: [Double] = []
            var decade = pow(10, floor(log10(low)))
            while decade <= high {
                for m in [1.0, 2, 5] where decade * m >= low && decade * m <= high { ticks.append(decade * m) }
                decade *= 10
            }
            return ticks
        }
        let raw = (high - low) / 5
        let magnitude = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 2.5, 5, 10].map { $0 * magnitude }.first { $0 >= raw } ?? raw
        return stride(from: low, through: high, by: step).map { $0 }
    }

    private func f(_ v: Double) -> String { String(format: "%.1f", v) }
    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}

/// The broadcast run as an SVG document: latency percentiles vs subscribers, and forwarder
/// CPU per packet vs subscribers, each with the references of the same run.
func broadcastSVG(_ report: BroadcastReport) -> String {
    // With a --workers sweep the plot shows the last relay run ("relay w2").
    let relayName = report.steps.last { $0.scenario.hasPrefix("relay") }?.scenario ?? "relay"
    func steps(_ scenario: String) -> [BroadcastStep] {
        report.steps.filter { $0.scenario == (scenario == "relay" ? relayName : scenario) }
    }
    func line(_ scenario: String, _ value: (BroadcastStep) -> Double?) -> [(x: Double, y: Double)] {
        steps(scenario).compactMap { s in value(s).map { (Double(s.subscribers), $0) } }
    }
    let counts = Array(Set(report.steps.filter { $0.scenario != "direct" }.map { Double($0.subscribers) })).sorted()
    let span = counts.isEmpty ? [1.0] : [counts.first!, counts.last!]
    var latency: [PlotSeries] = [
        PlotSeries(label: "relay p50", points: line("relay") { $0.latency.p50 }, color: "#1f77b4"),
        PlotSeries(label: "relay p99", points: line("relay") { $0.latency.p99 }, color: "#d62728"),
        PlotSeries(label: "relay p99.9", points: line("relay") { $0.latency.p999 }, color: "#9467bd"),
        PlotSeries(label: "kernel floor p50", points: line("kernel-floor") { $0.latency.p50 }, color: "#1f77b4", dash: "6 4"),
        PlotSeries(label: "kernel floor p99", points: line("kernel-floor") { $0.latency.p99 }, color: "#d62728", dash: "6 4"),
    ]
    if !steps("janus").isEmpty {
        latency.append(PlotSeries(label: "Janus p50", points: line("janus") { $0.latency.p50 }, color: "#ff7f0e", dash: "10 3"))
        latency.append(PlotSeries(label: "Janus p99", points: line("janus") { $0.latency.p99 }, color: "#8c564b", dash: "10 3"))
    }
    if let direct = steps("direct").first {
        latency.append(PlotSeries(label: "direct p50", points: span.map { ($0, direct.latency.p50) }, color: "#555", dash: "2 3", markers: false))
        latency.append(PlotSeries(label: "direct p99", points: span.map { ($0, direct.latency.p99) }, color: "#aaa", dash: "2 3", markers: false))
    }
    var cpu = [
        PlotSeries(label: "relay (process)", points: line("relay") { $0.cpuMicrosPerPacket }, color: "#2ca02c"),
        PlotSeries(label: "kernel floor (thread)", points: line("kernel-floor") { $0.cpuMicrosPerPacket }, color: "#7f7f7f", dash: "6 4"),
    ]
    if !steps("janus").isEmpty {
        cpu.append(PlotSeries(label: "Janus (process)", points: line("janus") { $0.cpuMicrosPerPacket }, color: "#ff7f0e", dash: "10 3"))
    }
    let panels = [
        PlotPanel(title: "Latency, publisher send → subscriber receive", yLabel: "µs (log scale)", series: latency, logY: true, xTicks: counts),
        // Janus costs several times the relay: a log scale keeps both readable.
        PlotPanel(title: "CPU per forwarded packet", yLabel: steps("janus").isEmpty ? "µs of CPU per packet" : "µs of CPU per packet (log scale)",
                  series: cpu, logY: !steps("janus").isEmpty, xTicks: counts),
    ]
    let note = "giaoban-bench broadcast, \(format(report.seconds)) s per step; \(report.profile.videoBitrate / 1000) kbit/s video + audio; janus: \(report.janus)"
    return svgDocument(panels, note: note)
}

/// Panels stacked in one SVG document, with a note at the bottom.
func svgDocument(_ panels: [PlotPanel], note: String) -> String {
    let height = PlotPanel.height * Double(panels.count) + 30
    var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(PlotPanel.width))" height="\(Int(height))" \
        font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>

        """
    for (i, panel) in panels.enumerated() { svg += panel.svg(offset: Double(i) * PlotPanel.height) }
    svg += "<text x=\"\(Int(PlotPanel.left))\" y=\"\(Int(height - 10))\" fill=\"#666\">\(note.replacingOccurrences(of: "&", with: "&amp;"))</text>\n"
    svg += "</svg>\n"
    return svg
}
