import GiaobanRTP
/// Why the relay did not resend a packet a subscriber NACKed (RFC 4585 §6.2.1); stable names
/// used as the `reason` label of `giaoban_nack_refused_total`. Counted, never logged.
public enum NACKRefusal: Int, Sendable, CaseIterable {
    /// The sequence number came again in the same RTCP compound (or the same NACK).
    case duplicate
    /// The packet was already sent again `nack_max_per_packet` times to this subscriber.
    case packetLimit
    /// The subscriber's retransmissions this second reached `nack_max_per_second`.
    case rateLimit

    /// The metric label.
    public var label: String {
        switch self {
        case .duplicate: "duplicate"
        case .packetLimit: "packet_limit"
        case .rateLimit: "rate_limit"
        }
    }
}

/// How often each cached packet was sent again to one subscriber, and in which RTCP compound
/// it was last asked for: a fixed ring indexed by the packet's cache serial
/// (`PacketCache.serial(of:)`), as large as the cache's index, so two packets cached at the
/// same time never share an entry. Allocated once, on the subscriber's first NACK for that
/// kind; nothing here allocates afterwards. Owned by the media thread.
final class RetransmissionLog {
    struct Entry {
        var serial: UInt64
        var compound: UInt32
        var sent: UInt8
    }

    private let entries: UnsafeMutableBufferPointer<Entry>
    private let mask: Int

    /// A log for packets of a cache with `capacity` index entries (a power of two).
    init(capacity: Int) {
        var c = 1
        while c < max(1, capacity) { c <<= 1 }
        mask = c - 1
        entries = .allocate(capacity: c)
        entries.initialize(repeating: Entry(serial: .max, compound: 0, sent: 0))
    }

    deinit { entries.deallocate() }

    /// Whether the packet `serial`, NACKed in compound `compound` (never 0), may be sent again:
    /// nil when it may, else why not. A second request within one compound is a duplicate.
    func check(serial: UInt64, compound: UInt32, maxSends: Int) -> NACKRefusal? {
        let i = Int(truncatingIfNeeded: serial) & mask
        if entries[i].serial != serial {
            entries[i] = Entry(serial: serial, compound: compound, sent: 0)
        } else if entries[i].compound == compound {
            return .duplicate
        } else {
            entries[i].compound = compound
        }
        return Int(entries[i].sent) >= maxSends ? .packetLimit : nil
    }

    /// Records that packet `serial` (just passed by `check`) was sent again.
    func recordSent(serial: UInt64) {
        let i = Int(truncatingIfNeeded: serial) & mask
        if entries[i].serial == serial && entries[i].sent < .max { entries[i].sent += 1 }
    }
}

/// A token bucket: `rate` tokens a second, at most `rate` saved up (one second's burst),
/// refilled from the caller's clock. Full at the start.
struct TokenBucket {
    private var tokens: Double = -1
    private var last: ContinuousClock.Instant?

    /// Takes one token at `now` if there is one.
    mutating func take(rate: Int, now: ContinuousClock.Instant) -> Bool {
        let capacity = Double(rate)
        if let last, tokens >= 0 {
            let elapsed = now - last
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
            if seconds > 0 { tokens = min(capacity, tokens + seconds * capacity) }
        } else {
            tokens = capacity
        }
        last = now
        guard tokens >= 1 else { return false }
        tokens -= 1
        return true
    }
}
