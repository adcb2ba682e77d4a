public import GiaobanCrypto
public import GiaobanWire

/// Datagrams waiting for the next batched send: preallocated slots, each with a length and
/// a destination. The forwarding path writes an egress packet straight into a slot (no
/// intermediate copy), and the socket loop sends all slots with one `sendmmsg`.
///
/// When the queue is full, `flush` is called to make room, so a fan-out to many subscribers
/// never drops for lack of slots.
///
/// With more than one egress lane (`media.workers`), every peer belongs to one lane
/// (`MediaPeer.lane`). Lane 0 is this queue, protected as packets are committed and sent by
/// the media thread itself; every other lane fills an `EgressBatch` whose SRTP protection is
/// left to that lane's worker thread, which gets the batch whole through `handOff` (at a
/// flush, or when the batch is full) and sends it. So a frame's fan-out to many watchers is
/// protected and sent on every core, and one peer's packets stay in order on its lane.
public final class OutputQueue {
    /// Lane 0's slots: filled and sent by the media thread, never handed off; every slot
    /// already protected when committed.
    let own: EgressBatch
    /// Bytes per slot: the largest datagram plus SRTP's tag.
    public var slotSize: Int { own.slotSize }
    /// Number of slots.
    public var capacity: Int { own.capacity }
    /// Slot storage: slot i starts at i * slotSize.
    public var storage: UnsafeMutableRawBufferPointer { own.storage }
    /// Length of each queued datagram.
    public var lengths: UnsafeMutableBufferPointer<Int32> { own.lengths }
    /// Destination of each queued datagram.
    public var destinations: UnsafeMutableBufferPointer<STUNAddress> { own.destinations }
    /// Number of datagrams queued.
    public var count: Int { own.count }
    /// How many of them go to a TCP connection (ICE-TCP) rather than over UDP.
    public var streamed: Int { own.streamed }
    /// Sends `count` queued datagrams; installed by the socket loop.
    public var flush: (OutputQueue) -> Void
    /// The number of egress lanes (1: everything on lane 0).
    public let laneCount: Int
    /// The batches being filled for lanes 1…, at index lane − 1.
    var batches: [EgressBatch]
    /// Gives lane `lane`'s full batch to its worker and returns an empty one to fill next;
    /// installed by the socket loop when there is more than one lane (without one, packets of
    /// lanes beyond 0 would be lost: that is a programming error).
    public var handOff: (Int, EgressBatch) -> EgressBatch = { lane, _ in
        preconditionFailure("OutputQueue lane \(lane) has no handOff: install one for every lane beyond 0")
    }
    /// What a flush does with lane `lane`'s non-empty batch; nil: `handOff`. The socket loop
    /// installs one that sends a small batch on the media thread when the lane's worker is idle.
    public var flushLane: ((Int, EgressBatch) -> EgressBatch)?

    /// Creates a queue of `capacity` slots of `slotSize` bytes; `flush` sends them.
    public init(capacity: Int = 512, slotSize: Int = 1600, lanes: Int = 1, flush: @escaping (OutputQueue) -> Void = { _ in }) {
        own = EgressBatch(capacity: capacity, slotSize: slotSize)
        laneCount = max(1, lanes)
        batches = (1..<max(1, lanes)).map { _ in EgressBatch(capacity: capacity, slotSize: slotSize) }
        self.flush = flush
    }

    /// The next free slot, flushing first if the queue is full. Write into it, then `commit`.
    @inline(__always)
    public func nextSlot() -> UnsafeMutableRawBufferPointer {
        if own.count == own.capacity { flushNow() }
        return own.slot(own.count)
    }

    /// Queues the slot returned by `nextSlot` with `length` bytes for `destination`.
    @inline(__always)
    public func commit(length: Int, to destination: STUNAddress) {
        own.append(length: length, to: destination, protection: nil, rtcp: false)
    }

    /// Copies `bytes` into a slot of `lane` and queues it as it is.
    public func enqueue(_ bytes: UnsafeRawBufferPointer, to destination: STUNAddress, lane: Int = 0) {
        guard bytes.count <= slotSize, let src = bytes.baseAddress else { return }
        let slot = nextSlot(lane: lane)
        slot.baseAddress!.copyMemory(from: src, byteCount: bytes.count)
        commit(length: bytes.count, to: destination, lane: lane)
    }

    /// The next free slot of `lane` (lane 0: this queue's), handing the lane's batch off
    /// first if it is full. Write into it, then `commit` or `commitProtected` on the same lane,
    /// before asking for any other slot: a full lane 0 flushes, and so hands off every lane.
    @inline(__always)
    public func nextSlot(lane: Int) -> UnsafeMutableRawBufferPointer {
        guard lane > 0 else { return nextSlot() }
        var batch = batches[lane - 1]
        if batch.count == batch.capacity {
            batch = handOff(lane, batch)
            batches[lane - 1] = batch
        }
        return batch.slot(batch.count)
    }

    /// Queues the slot of `lane` returned by `nextSlot(lane:)` as it is (STUN, DTLS).
    @inline(__always)
    public func commit(length: Int, to destination: STUNAddress, lane: Int) {
        guard lane > 0 else { return commit(length: length, to: destination) }
        batches[lane - 1].append(length: length, to: destination, protection: nil, rtcp: false)
    }

    /// Queues the plain RTP (or with `rtcp`, RTCP) packet in the slot of `lane` returned by
    /// `nextSlot(lane:)`, to be protected with `context`: at once on lane 0 (false when that
    /// fails, and nothing is queued), by the lane's worker on the others.
    @inline(__always)
    public func commitProtected(length: Int, to destination: STUNAddress, lane: Int, context: SRTPContext, rtcp: Bool) -> Bool {
        guard lane > 0 else {
            let slot = own.slot(own.count)
            let protected = rtcp ? try? context.protectRTCP(slot, length: length) : try? context.protectRTP(slot, length: length)
            guard let protected else { return false }
            commit(length: protected, to: destination)
            return true
        }
        batches[lane - 1].append(length: length, to: destination, protection: context, rtcp: rtcp)
        return true
    }

    /// Sends what is queued on lane 0 and hands every other lane's non-empty batch to its worker.
    public func flushNow() {
        for lane in 1..<laneCount where batches[lane - 1].count > 0 {
            batches[lane - 1] = (flushLane ?? handOff)(lane, batches[lane - 1])
        }
        guard own.count > 0 else { return }
        flush(self)
        own.reset()
    }

    /// Empties the queue without sending (tests read the slots first).
    public func removeAll() { own.reset() }

    /// The bytes of queued datagram `index` (tests and diagnostics).
    public func datagram(_ index: Int) -> UnsafeRawBufferPointer { own.datagram(index) }
}
