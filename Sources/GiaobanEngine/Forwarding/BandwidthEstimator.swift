public import GiaobanWire

/// A send-side estimate of what one subscriber's link carries, from the transport-wide
/// feedback it sends about the packets the relay sent it, in the spirit of Google congestion
/// control (draft-ietf-rmcat-gcc-02):
///
/// - **delay**: packets are grouped by send time (bursts of 5 ms); between consecutive groups
///   the arrival spacing minus the send spacing is the delay variation. Its running sum,
///   smoothed, is fitted with a line over the last 20 groups; a slope above an adaptive
///   threshold means queues are growing (over-use), below its negative means they drain;
/// - **rate control**: over-use sets the estimate to 85 % of the rate that arrived; otherwise
///   it grows by `increasePerSecond`;
/// - **loss**: judged per window of at least 300 ms and 20 packets, smoothed over windows
///   (a quarter of each new one): above 10 % lowers the estimate by half that fraction, once
///   per window; under 2 % lets it grow; in between it holds. A link that loses a steady few
///   percent at random (a commune's radio or DSL line) is not congested: single feedback
///   messages there often exceed 10 % by chance and would pull the estimate down to nothing;
/// - **probing**: the relay may `probe` a higher value (by switching a subscriber up a layer,
///   so the real media is the probe); delay or loss that follow bring the estimate back down.
///
/// `sent` runs per packet and does not allocate (fixed history of 4096 packets); feedback
/// runs a few times a second. Time is microseconds on one clock.
public struct BandwidthEstimator: Sendable {
    /// What the last feedback said about the link.
    public enum Usage: Sendable, Equatable { case normal, overusing, underusing }

    /// The estimate in bit/s.
    public private(set) var estimate: Int
    /// The latest judgement of the delay trend.
    public private(set) var usage = Usage.normal
    /// The smoothed fraction of packets lost (0–1).
    public private(set) var lossFraction = 0.0
    /// The rate that arrived at the subscriber in the last feedback window (bit/s), 0 before any.
    public private(set) var receivedRate = 0
    /// Feedback messages read.
    public private(set) var feedbacks = 0
    /// When the usage was last not normal or loss was high (µs); nil when never.
    public private(set) var lastCongestion: Int64?

    let minimum: Int
    let maximum: Int
    let increasePerSecond: Double

    static let historySize = 4096
    var sentSequence: [UInt16]
    var sentTime: [Int64]
    var sentSize: [Int32]
    var nextSequence: UInt16 = 0

    // Delay-based state: the group being filled and the one before it.
    var group: (firstSend: Int64, lastSend: Int64, lastArrival: Int64)?
    var previous: (lastSend: Int64, lastArrival: Int64)?
    var accumulated = 0.0
    var smoothed = 0.0
    var trend: [(x: Double, y: Double)] = []
    var threshold = 12.5
    var lastThresholdUpdate: Int64?
    var overuseSince: Int64?
    var lastUpdate: Int64?
    var lastDecrease: Int64?
    // Loss-based state: the packets reported in the current window, and the windows' smoothed loss.
    var lossWindow = (total: 0, lost: 0, start: Int64(-1))
    var windowLoss = 0.0
    var windowsJudged = 0

    /// The shortest loss window (µs) and the fewest packets one is judged on.
    static let lossWindowMicroseconds: Int64 = 300_000
    static let lossWindowPackets = 20

    /// An estimator starting at `initial` bit/s, kept within `minimum`…`maximum`.
    public init(initial: Int = 1_000_000, minimum: Int = 30_000, maximum: Int = 50_000_000, increasePerSecond: Double = 0.08) {
        estimate = initial
        self.minimum = minimum
        self.maximum = maximum
        self.increasePerSecond = increasePerSecond
        sentSequence = Array(repeating: 0, count: Self.historySize)
        sentTime = Array(repeating: -1, count: Self.historySize)
        sentSize = Array(repeating: 0, count: Self.historySize)
        trend.reserveCapacity(21)
    }

    /// Takes the next transport-wide sequence number for a packet of `size` bytes sent at `time` µs.
    @inline(__always)
    public mutating func sent(size: Int, at time: Int64) -> UInt16 {
        let sequence = nextSequence
        nextSequence &+= 1
        let slot = Int(sequence) & (Self.historySize - 1)
        sentSequence[slot] = sequence
        sentTime[slot] = time
        sentSize[slot] = Int32(truncatingIfNeeded: size)
        return sequence
    }

    /// Counts packet `sequence` as lost: the subscriber asked for it again (a NACK). Its
    /// retransmission carries the same transport-wide number (the same bytes under the same SRTP
    /// index), so feedback about that number afterwards is ignored; feedback that already
    /// reported it leaves it as reported.
    public mutating func resent(_ sequence: UInt16) {
        let slot = Int(sequence) & (Self.historySize - 1)
        guard sentSequence[slot] == sequence, sentTime[slot] >= 0 else { return }
        sentTime[slot] = -1
        lossWindow.total += 1
        lossWindow.lost += 1
    }

    /// Reads one feedback message received at `now` µs and updates the estimate.
    public mutating func read(_ feedback: TransportWideFeedback, now: Int64) {
        var total = 0, lost = 0, bytes = 0, firstBytes = 0
        var firstArrival = Int64.max, lastArrival = Int64.min
        for result in feedback {
            let slot = Int(result.sequenceNumber) & (Self.historySize - 1)
            guard sentSequence[slot] == result.sequenceNumber, sentTime[slot] >= 0 else { continue }
            let sendTime = sentTime[slot]
            sentTime[slot] = -1  // reported once (a retransmission reuses the number)
            total += 1
            guard let arrival = result.arrivalMicroseconds else {
                lost += 1
                continue
            }
            bytes += Int(sentSize[slot])
            if arrival < firstArrival { firstBytes = Int(sentSize[slot]) }
            firstArrival = min(firstArrival, arrival)
            lastArrival = max(lastArrival, arrival)
            arrived(sendTime: sendTime, arrival: arrival)
        }
        guard total > 0 else { return }
        feedbacks += 1
        if lastArrival > firstArrival + 20_000 {
            // The first arrival opens the window: its bytes came before it.
            receivedRate = Int(Double((bytes - firstBytes) * 8) * 1e6 / Double(lastArrival - firstArrival))
        }
        let loss = Double(lost) / Double(total)
        lossFraction = lossFraction * 0.5 + loss * 0.5
        if lossWindow.start < 0 { lossWindow.start = now }
        lossWindow.total += total
        lossWindow.lost += lost
        var judged = false
        if now - lossWindow.start >= Self.lossWindowMicroseconds && lossWindow.total >= Self.lossWindowPackets {
            let fraction = Double(lossWindow.lost) / Double(lossWindow.total)
            windowLoss = windowsJudged == 0 ? fraction : 0.75 * windowLoss + 0.25 * fraction
            windowsJudged += 1
            lossWindow = (0, 0, now)
            judged = true
        }
        // Before the first window closes, the feedback's own smoothed loss stands in.
        update(now: now, loss: windowsJudged == 0 ? lossFraction : windowLoss, judged: judged)
    }

    /// Tries a higher estimate (a probe); congestion afterwards brings it down again.
    public mutating func probe(to value: Int) {
        estimate = max(estimate, min(value, maximum))
    }

    /// True when neither delay nor loss has signalled congestion for `quiet` µs before `now`.
    public func isCalm(now: Int64, quiet: Int64) -> Bool {
        guard feedbacks > 0, usage != .overusing else { return false }
        return lastCongestion.map { now - $0 >= quiet } ?? true
    }

    // MARK: Delay

    mutating func arrived(sendTime: Int64, arrival: Int64) {
        guard var current = group else {
            group = (sendTime, sendTime, arrival)
            return
        }
        if sendTime - current.firstSend <= 5_000 {
            current.lastSend = max(current.lastSend, sendTime)
            current.lastArrival = max(current.lastArrival, arrival)
            group = current
            return
        }
        if let previous {
            let variation = Double((current.lastArrival - previous.lastArrival) - (current.lastSend - previous.lastSend)) / 1000
            addDelaySample(variation, at: Double(current.lastArrival) / 1000)
        }
        previous = (current.lastSend, current.lastArrival)
        group = (sendTime, sendTime, arrival)
    }

    /// One inter-group delay variation (ms) at arrival time `x` (ms): the trendline filter and
    /// the over-use detector with its adaptive threshold.
    mutating func addDelaySample(_ variation: Double, at x: Double) {
        accumulated += variation
        smoothed = 0.9 * smoothed + 0.1 * accumulated
        if trend.count == 20 { trend.removeFirst() }
        trend.append((x, smoothed))
        guard trend.count >= 5 else { return }
        let n = Double(trend.count)
        var meanX = 0.0, meanY = 0.0
        for point in trend {
            meanX += point.x
            meanY += point.y
        }
        meanX /= n
        meanY /= n
        var numerator = 0.0, denominator = 0.0
        for point in trend {
            numerator += (point.x - meanX) * (point.y - meanY)
            denominator += (point.x - meanX) * (point.x - meanX)
        }
        guard denominator > 0 else { return }
        let slope = numerator / denominator
        let modified = min(n, 60) * slope * 4
        let now = Int64(x * 1000)
        if modified > threshold {
            let since = overuseSince ?? now
            overuseSince = since
            if now - since >= 10_000 { usage = .overusing }
        } else if modified < -threshold {
            overuseSince = nil
            usage = .underusing
        } else {
            overuseSince = nil
            usage = .normal
        }
        // The threshold follows the trend: slowly down, faster up (gcc-02 §5.4).
        if let last = lastThresholdUpdate, abs(modified) < threshold + 15 {
            let k = abs(modified) < threshold ? 0.039 : 0.0087
            let dt = min(Double(now - last) / 1000, 100)
            threshold = min(max(threshold + k * (abs(modified) - threshold) * dt, 6), 600)
        }
        lastThresholdUpdate = now
    }

    // MARK: Rate

    /// `loss`: the windows' smoothed loss fraction; `judged`: a window closed just now (a
    /// decrease for loss happens at most once per window).
    mutating func update(now: Int64, loss: Double, judged: Bool) {
        let elapsed = lastUpdate.map { min(Double(now - $0) / 1e6, 1) } ?? 0
        lastUpdate = now
        var next = Double(estimate)
        switch usage {
        case .overusing:
            // Once per round of feedback the sender could react to, not on every message.
            if lastDecrease.map({ now - $0 >= 300_000 }) ?? true {
                let base = receivedRate > 0 ? Double(receivedRate) : next
                next = min(next, 0.85 * base)
                lastDecrease = now
            }
            lastCongestion = now
        case .underusing:
            break  // queues drain: hold
        case .normal:
            if loss < 0.02 { next *= 1 + increasePerSecond * elapsed }
        }
        if loss > 0.1 {
            if judged {
                next *= 1 - 0.5 * loss
                lastDecrease = now
            }
            lastCongestion = now
        }
        estimate = Int(min(max(next, Double(minimum)), Double(maximum)))
    }
}
