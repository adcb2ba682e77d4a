import GiaobanWire

/// Which sequence numbers of one received stream to ask for again with Generic NACK
/// (RFC 4585 §6.2.1), and when. A gap in arriving sequence numbers puts the missing ones
/// on the list; each is asked for at once, then again every `retryInterval` (at least the
/// round trip) up to `maxRetries` times; then it is given up (the receiver should ask for
/// a keyframe with PLI, §6.3.1). A listed packet that arrives is a retransmission when it
/// was asked for.
///
/// Pure and I/O-free: arrivals and the time in, sequence numbers to NACK out. The list is
/// preallocated; `received` and `due` do not allocate.
public struct NACKScheduler: Sendable {
    /// Counts since the start.
    public struct Counters: Sendable, Codable, Equatable {
        /// Sequence numbers found missing (each once): the loss before any retransmission.
        public var missing = 0
        /// Sequence numbers put in NACK messages (each retry counts).
        public var requested = 0
        /// Asked-for packets that arrived.
        public var retransmissionsReceived = 0
        /// Sequence numbers given up after `maxRetries` requests.
        public var givenUp = 0
        /// Gaps too wide to ask for packet by packet (more than `maxListed` missing at once).
        public var gapsTooWide = 0

        /// All counts zero.
        public init() {}
    }

    private struct Entry: Sendable {
        var sequence: Int64
        var retries: Int
        var nextSend: ContinuousClock.Instant
    }

    /// Requests per sequence number before giving up.
    public var maxRetries: Int
    /// The shortest time between two requests for the same packet.
    public var minimumRetryInterval: Duration
    /// The most sequence numbers listed at once.
    public let maxListed: Int
    /// Counts since the start.
    public private(set) var counters = Counters()

    private var unwrapper = SerialUnwrapper<SeqNum16>()
    private var highest: Int64?
    private var missing: [Entry]

    /// Creates a scheduler that asks up to `maxRetries` times per packet, at least
    /// `minimumRetryInterval` apart, for at most `maxListed` missing packets.
    public init(maxRetries: Int = 3, minimumRetryInterval: Duration = .milliseconds(30), maxListed: Int = 128) {
        self.maxRetries = maxRetries
        self.minimumRetryInterval = minimumRetryInterval
        self.maxListed = maxListed
        missing = []
        missing.reserveCapacity(maxListed)
    }

    /// Sequence numbers waiting for a retransmission.
    public var pendingCount: Int { missing.count }

    /// Records an arriving packet and says what it was: a retransmission when it had been
    /// asked for; `.gapTooWide` when it opened a gap too wide to list (ask for a keyframe).
    public mutating func received(_ sequenceNumber: UInt16, now: ContinuousClock.Instant) -> Arrival {
        let seq = unwrapper.unwrap(sequenceNumber)
        guard let top = highest else {
            highest = seq
            return .inOrder
        }
        if seq > top {
            highest = seq
            let gap = seq - top - 1
            guard gap > 0 else { return .inOrder }
            guard gap + Int64(missing.count) <= Int64(maxListed) else {
                counters.gapsTooWide += 1
                missing.removeAll(keepingCapacity: true)
                return .gapTooWide
            }
            for s in (top + 1)..<seq { missing.append(Entry(sequence: s, retries: 0, nextSend: now)) }
            counters.missing += Int(gap)
            return .inOrder
        }
        guard let index = missing.firstIndex(where: { $0.sequence == seq }) else { return .inOrder }
        let entry = missing.remove(at: index)
        guard entry.retries > 0 else { return .reordered }
        counters.retransmissionsReceived += 1
        return .retransmission
    }

    /// What an arrival was.
    public enum Arrival: Sendable, Equatable {
        /// The next packet, or one after a gap that is now listed, or an unlisted old one.
        case inOrder
        /// A listed packet that came late by itself, before it was asked for.
        case reordered
        /// A listed packet that was asked for: a retransmission (or its late original).
        case retransmission
        /// A gap wider than `maxListed`: nothing was listed; ask for a keyframe.
        case gapTooWide
    }

    /// Stops asking for `sequenceNumber` (its place was given up downstream).
    public mutating func forget(_ sequenceNumber: UInt16) {
        let seq = unwrapper.peek(sequenceNumber)
        if let index = missing.firstIndex(where: { $0.sequence == seq }) { missing.remove(at: index) }
    }

    /// Calls `request` with each sequence number due for a NACK at `now`, in increasing
    /// order, and schedules its next retry `max(roundTrip, minimumRetryInterval)` later.
    /// Returns how many were given up after `maxRetries` (ask for a keyframe if any).
    /// Entries for which `isWanted` says false (the packet is settled elsewhere) are dropped.
    public mutating func due(now: ContinuousClock.Instant, roundTrip: Duration?, isWanted: (UInt16) -> Bool = { _ in true },
                             _ request: (UInt16) -> Void) -> Int {
        let interval = max(roundTrip ?? minimumRetryInterval, minimumRetryInterval)
        var givenUp = 0
        var i = 0
        while i < missing.count {
            if missing[i].nextSend > now {
                i += 1
                continue
            }
            let seq = UInt16(truncatingIfNeeded: missing[i].sequence)
            if !isWanted(seq) {
                missing.remove(at: i)
                continue
            }
            if missing[i].retries >= maxRetries {
                missing.remove(at: i)
                givenUp += 1
                continue
            }
            missing[i].retries += 1
            missing[i].nextSend = now + interval
            counters.requested += 1
            request(seq)
            i += 1
        }
        counters.givenUp += givenUp
        return givenUp
    }
}
