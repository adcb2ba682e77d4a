public import GiaobanCrypto
public import GiaobanWire

/// The packets of one egress lane between two hand-offs: preallocated slots, each with a
/// length, a destination and, for SRTP and SRTCP, the context that still has to protect it.
///
/// The media thread fills a batch (`OutputQueue.nextSlot(lane:)`, `commitProtected`), then
/// hands it whole to the lane's worker, which protects every slot that waits for it
/// (`protectAll`), sends the batch and gives it back empty (`reset`). A batch belongs to one
/// thread at a time; the hand-off is the only synchronization, once per batch, not per packet.
public final class EgressBatch: @unchecked Sendable {
    // @unchecked: a batch, with its contexts, belongs to one thread at a time; the hand-off
    // between the media thread and the worker (a mutex and a semaphore) orders the two.
    /// Bytes per slot: the largest datagram plus SRTP's tag.
    public let slotSize: Int
    /// Number of slots.
    public let capacity: Int
    /// Slot storage: slot i starts at i * slotSize.
    public let storage: UnsafeMutableRawBufferPointer
    /// Length of each queued datagram (the plain length until `protectAll`; 0 when its
    /// protection failed, and such a slot is not sent).
    public let lengths: UnsafeMutableBufferPointer<Int32>
    /// Destination of each queued datagram.
    public let destinations: UnsafeMutableBufferPointer<STUNAddress>
    /// The context that protects slot i, nil when it goes as it is (STUN, DTLS).
    var protections: [SRTPContext?]
    /// Whether slot i is RTCP (SRTCP) rather than RTP.
    let isRTCP: UnsafeMutableBufferPointer<Bool>
    /// Number of datagrams queued.
    public internal(set) var count = 0
    /// How many of them go to a TCP connection (ICE-TCP) rather than over UDP.
    public internal(set) var streamed = 0
    /// How many of them wait for a context to protect them.
    var awaitingProtection = 0

    /// Creates a batch of `capacity` slots of `slotSize` bytes.
    public init(capacity: Int = 512, slotSize: Int = 1600) {
        self.capacity = capacity
        self.slotSize = slotSize
        storage = .allocate(byteCount: capacity * slotSize, alignment: 16)
        lengths = .allocate(capacity: capacity)
        lengths.initialize(repeating: 0)
        destinations = .allocate(capacity: capacity)
        destinations.initialize(repeating: STUNAddress(ipv4: 0, port: 0))
        protections = Array(repeating: nil, count: capacity)
        isRTCP = .allocate(capacity: capacity)
        isRTCP.initialize(repeating: false)
    }

    deinit {
        storage.deallocate()
        lengths.deallocate()
        destinations.deallocate()
        isRTCP.deallocate()
    }

    @inline(__always)
    func slot(_ index: Int) -> UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(rebasing: storage[(index * slotSize)..<((index + 1) * slotSize)])
    }

    @inline(__always)
    func append(length: Int, to destination: STUNAddress, protection: SRTPContext?, rtcp: Bool) {
        precondition(count < capacity, "a slot is committed once, after nextSlot(lane:) on the same lane")
        lengths[count] = Int32(length)
        destinations[count] = destination
        // `reset` leaves every slot without a context: only a protected one is written.
        if let protection {
            protections[count] = protection
            isRTCP[count] = rtcp
            awaitingProtection += 1
        }
        count += 1
        if destination.connection != 0 { streamed += 1 }
    }

    /// Protects (SRTP or SRTCP) every slot that waits for it, in place; a slot whose
    /// protection fails gets length 0. Returns how many failed. Run by the lane's worker.
    public func protectAll() -> Int {
        var failed = 0
        for i in 0..<count {
            guard let context = protections[i] else { continue }
            let buffer = slot(i)
            let length = Int(lengths[i])
            let protected = isRTCP[i] ? try? context.protectRTCP(buffer, length: length)
                                      : try? context.protectRTP(buffer, length: length)
            if let protected { lengths[i] = Int32(protected) } else {
                lengths[i] = 0
                failed += 1
            }
        }
        return failed
    }

    /// Empties the batch and lets go of its contexts.
    public func reset() {
        if awaitingProtection > 0 {
            for i in 0..<count { protections[i] = nil }
            awaitingProtection = 0
        }
        count = 0
        streamed = 0
    }

    /// The bytes of queued datagram `index`.
    public func datagram(_ index: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: storage[(index * slotSize)..<(index * slotSize + Int(lengths[index]))])
    }
}
