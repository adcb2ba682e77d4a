import Foundation
public import GiaobanStore
public import Logging
public import Synchronization
public import GiaobanAuth

/// The operations hub: incidents routed to communes, briefings with receipts, the directory,
/// meetings and their roll call, and live push over WebSocket. Every record is committed
/// before any client hears "accepted" or gets a push.
public final class Hub: Sendable {
    /// What `[hub]` in the configuration sets.
    public struct Settings: Sendable, Equatable {
        /// Communes within this many metres of an incident are notified, as well as the one containing it.
        public var routingRadiusMetres = 1_000.0
        /// A commune that has not acknowledged an incident after this long is escalated.
        public var acknowledgementTimeoutMilliseconds: Int64 = 300_000
        /// How often overdue acknowledgements are looked for.
        public var escalationCheckInterval = Duration.seconds(5)
        /// The largest incident snapshot (JPEG) accepted.
        public var maxSnapshotBytes = 524_288
        /// The largest total of a briefing's attachments.
        public var maxAttachmentBytes = 524_288
        /// The largest request body.
        public var maxBodyBytes = 1_048_576
        /// Event and room WebSockets one subject may hold open at once (`security.max_sockets_per_subject`).
        public var maxSocketsPerSubject = 16
        /// A camera's report farther than this from its directory entry is flagged.
        public var cameraToleranceMetres = 2_000.0
        /// Requests per minute per subject (`security.*_per_minute`).
        public var rateLimits = RateLimits()
        /// Lifetime of a sign-in's access token, seconds (`security.access_token_lifetime_s`).
        public var accessTokenLifetimeSeconds: Int64 = 600

        /// The defaults.
        public init() {}
    }

    package let database: any RecordDatabase
    package let incidents: IncidentStore
    package let deliveries: DeliveryStore
    package let directory: DirectoryStore
    package let briefings: BriefingStore
    package let meetings: MeetingStore
    /// Commune areas for routing.
    public let areas: CommuneAreas
    /// Live push to connected clients.
    public let events: HubEvents
    package let tokens: TokenAuthority
    package let settings: Settings
    package let logger: Logger
    package let clock: @Sendable () -> Int64
    /// Counters for /metrics.
    public let metrics = HubMetrics()
    /// The streaming cameras' states on this node.
    public let cameraStates = CameraStates()
    /// Receipt confirmations waiting to be written together.
    package let confirmations = Mutex<(pending: [Confirmation], scheduled: Bool)>(([], false))
    /// Open event and room WebSockets, by token subject (`Settings.maxSocketsPerSubject`).
    package let socketsBySubject = Mutex<[String: Int]>([:])
    /// Requests per minute per subject (`Settings.rateLimits`).
    package let rateLimiter: SubjectRateLimiter
    /// How many participants hold a seat in meeting `id`'s room now (set by `MeetingRooms`).
    package let roomOccupancy = Mutex<(@Sendable (Int64) -> Int)?>(nil)
    /// The other nodes on the same PostgreSQL database, once `joinCluster` ran.
    package let cluster = Mutex<HubCluster?>(nil)
    /// With other nodes (PostgreSQL): the advisory lock that makes one of them run the
    /// escalation timer. Nil on a single node, which always runs it.
    package let escalationLeader = Mutex<PostgresLeaderLock?>(nil)

    /// Whether this node runs the escalation timer now (the cluster's leader, or alone).
    public var runsEscalation: Bool { escalationLeader.withLock { $0 }?.isLeader ?? true }

    /// Participants seated in meeting `id`'s room now (0 without rooms).
    package func occupancy(_ id: Int64) -> Int { roomOccupancy.withLock { $0 }?(id) ?? 0 }

    /// A hub over an open, migrated database. `clock` gives milliseconds since 1970 (tests
    /// pass their own to step time).
    public init(database: any RecordDatabase, tokens: TokenAuthority, settings: Settings, logger: Logger,
                clock: @escaping @Sendable () -> Int64 = StoreClock.nowMilliseconds) async throws(StoreError) {
        self.database = database
        incidents = IncidentStore(database: database)
        deliveries = DeliveryStore(database: database)
        directory = DirectoryStore(database: database)
        briefings = BriefingStore(database: database)
        meetings = MeetingStore(database: database)
        areas = CommuneAreas(try await directory.communes())
        events = HubEvents()
        self.tokens = tokens
        self.settings = settings
        self.rateLimiter = SubjectRateLimiter(limits: settings.rateLimits)
        self.logger = logger
        self.clock = clock
    }

    /// Loads `file` into the directory if the directory is empty; true when it did.
    public func seedDirectory(_ file: DirectoryFile) async throws(StoreError) -> Bool {
        let seeded = try await directory.seedIfEmpty(communes: file.communes, cameras: file.cameras, now: clock())
        if seeded { try await reloadAreas() }
        return seeded
    }

    package func reloadAreas() async throws(StoreError) {
        let skipped = areas.replace(with: try await directory.communes())
        if !skipped.isEmpty { logger.warning("communes without a usable area are not routed to", metadata: ["ids": "\(skipped)"]) }
    }

    /// Escalates every overdue acknowledgement once: records it and tells the command center.
    @discardableResult
    public func escalateOverdue() async throws(StoreError) -> [DeliveryRecord] {
        let now = clock()
        let due = try await deliveries.escalateDue(routedBefore: now - settings.acknowledgementTimeoutMilliseconds, now: now)
        for row in due {
            metrics.escalations.add(1, ordering: .relaxed)
            logger.warning("incident not acknowledged in time: escalated to the command center",
                           metadata: ["incident": "\(row.itemID)", "commune": "\(row.recipient)"])
            events.publish(HubMessage.escalation(incidentID: row.itemID, recipient: row.recipient, routedAt: row.createdAt,
                                                 escalatedAt: now), to: commandCenterRecipient)
            await tellPeers(.escalation(incidentID: row.itemID, recipient: row.recipient))
        }
        return due
    }

    /// One client's receipt confirmation: on the command channel, `subject` confirms for
    /// itself, and for the channel's row only when it may act for the command center.
    package struct Confirmation: Sendable {
        var key: DeliveryKey
        var subject: String?
        var ofRecord: Bool
    }

    /// Queues a client's receipt confirmation. Confirmations are written in one transaction
    /// per `confirmationDelay` (not one fsync each: one incident can reach a thousand
    /// communes); a crash before the write loses only the mark, and the item is sent again at
    /// the next connect — delivery stays at least once.
    ///
    /// The command channel is shared by every chair, admin and observer: each subject's
    /// confirmation is kept for that subject (its own store and forward), and only a chair's
    /// or an admin's — the roles that act on the command center's row — marks the row
    /// delivered. An observer's never does.
    package func confirm(_ key: DeliveryKey, claims: TokenClaims) {
        let command = key.recipient == commandCenterRecipient
        let entry = Confirmation(key: key, subject: command ? claims.sub : nil,
                                 ofRecord: !command || Self.incidentStepRoles.contains(claims.role))
        let schedule = confirmations.withLock { state -> Bool in
            state.pending.append(entry)
            defer { state.scheduled = true }
            return !state.scheduled
        }
        guard schedule else { return }
        Task {
            try? await Task.sleep(for: Self.confirmationDelay)
            await flushConfirmations()
        }
    }

    /// How long confirmations gather before they are written.
    static package let confirmationDelay = Duration.milliseconds(20)

    /// Writes the queued confirmations and tells the command center of the new ones.
    package func flushConfirmations() async {
        let batch = confirmations.withLock { state -> [Confirmation] in
            defer { state = ([], false) }
            return state.pending
        }
        guard !batch.isEmpty else { return }
        let now = clock()
        do throws(StoreError) {
            let personal = batch.compactMap { c in c.subject.map { (key: c.key, subject: $0) } }
            if !personal.isEmpty { try await deliveries.recordCommandReceipts(personal, now: now) }
            let ofRecord = batch.filter(\.ofRecord).map(\.key)
            for key in ofRecord.isEmpty ? [] : try await deliveries.recordDelivered(ofRecord, now: now) {
                announce(HubMessage.Receipt(kind: key.kind.rawValue, id: key.itemID, recipient: key.recipient,
                                            step: "delivered", by: key.recipient, at: now))
                await tellPeers(.receipt(kind: key.kind, itemID: key.itemID, step: "delivered", recipient: key.recipient))
            }
        } catch {
            logger.error("receipt confirmations not recorded; the items will be sent again at reconnect",
                         metadata: ["count": "\(batch.count)", "error": "\(error)"])
        }
    }

    /// Runs `escalateOverdue` every `escalationCheckInterval` until the task is cancelled.
    public func runEscalation() async {
        while !Task.isCancelled {
            if !runsEscalation {
                // Another node leads; this one takes over within a few seconds of its death.
                try? await Task.sleep(for: .milliseconds(500))
                continue
            }
            do { try await escalateOverdue() } catch {
                logger.error("escalation check failed; retrying at the next interval", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: settings.escalationCheckInterval)
        }
    }
}

/// The hub's counters, exported on /metrics.
public final class HubMetrics: Sendable {
    /// Incidents stored (new, not retries).
    public let incidentsStored = Atomic<Int>(0)
    /// Incident posts refused (validation, size, type).
    public let incidentsRejected = Atomic<Int>(0)
    /// Briefings sent.
    public let briefingsSent = Atomic<Int>(0)
    /// Messages queued to WebSocket clients.
    public let messagesPushed = Atomic<Int>(0)
    /// Missing acknowledgements escalated.
    public let escalations = Atomic<Int>(0)
    /// WebSockets closed because their subject held `security.max_sockets_per_subject` already.
    public let socketsRefused = Atomic<Int>(0)
    /// Camera reports stored with a location flag (far from the camera's directory entry).
    public let locationsFlagged = Atomic<Int>(0)
    /// Event sockets closed because their mailbox overflowed (the client reconnects and replays).
    public let slowSocketsClosed = Atomic<Int>(0)
    /// Audit rows that could not be written (the action went ahead; docs/audit.md).
    public let auditAppendFailures = Atomic<Int>(0)
    /// Requests refused by a per-subject rate limit (`security.*_per_minute`).
    public let rateLimited = Atomic<Int>(0)

    package init() {}
}

/// Where a token's holder receives pushes and deliveries: a commune's own id, the command
/// center for chair/admin/observer, nothing for a camera.
extension TokenClaims {
    package var channel: String? {
        switch role {
        case .commune: sub
        case .chair, .admin, .observer: commandCenterRecipient
        case .camera: nil
        }
    }

    package var isCommandCenter: Bool { [.chair, .admin, .observer].contains(role) }
}

extension Hub {
    /// Who acknowledges (or marks read) an incident: a commune for its own row, a chair or an
    /// admin for the command center's. An observer only reads.
    static package let incidentStepRoles: Set<Role> = [.commune, .chair, .admin]

    /// Tells the command center's connections.
    package func announce(_ message: some Encodable) {
        metrics.messagesPushed.add(events.publish(HubMessage.encode(message), to: commandCenterRecipient), ordering: .relaxed)
    }
}
