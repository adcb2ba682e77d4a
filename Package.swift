// swift-tools-version:6.2
// Giaoban: a WebRTC selective-forwarding relay and operations hub.
//
// Targets follow the layers of docs/architecture.md; dependencies point downward only:
//   C modules  -> COpus, CVPX, COpenSSL, CSRTP, CSQLite, CPostgres (system libraries + inline shims), CAllocCounter, CUDPBatch
//   Wire       -> GiaobanWire (RTP, RTCP, STUN, SDP, payload descriptors; no I/O, no dependencies)
//   RTP media  -> GiaobanRTP (packetizers, frame assembler, jitter buffer, reception statistics, feedback recorder,
//                 sequence rewriter, packet cache, dominant speaker; pure, above Wire only)
//   Protocol   -> GiaobanCodecs (libopus, libvpx), GiaobanCrypto (OpenSSL: DTLS, SRTP on EVP),
//                 GiaobanSRTP (libsrtp2: the tests' and the benchmark's reference only),
//                 GiaobanICE (ICE-lite)
//   Engine     -> GiaobanEngine (media router: forwarding, feedback, SDP negotiation; no I/O)
//   Edges      -> GiaobanTransport (the only user of CUDPBatch: UDP socket, batches; shared by relay and client),
//                 GiaobanIncidents (CAP and JSON incident parsing and validation; pure, fuzzed as it is),
//                 GiaobanStore (SQLite or PostgreSQL: durable records), GiaobanAuth (tokens, roles)
//   Logic      -> GiaobanHub (incidents routed, receipts, escalation, pushes; over the store, injected clock, no HTTP),
//                 GiaobanRooms (a meeting room's state machine and its messages; pure),
//                 GiaobanMixer (per meeting: audio mix-minus, video composition)
//   Client     -> GiaobanClient (the endpoint stations run; also the server's trunks to a parent relay)
//   Server     -> GiaobanServer (configuration, HTTP routes and sockets, media thread, the rooms' actors)
//   Apps       -> giaoban (command line), giaoban-bench (Bench/)
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "giaoban",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "giaoban", targets: ["giaoban"]),
        .executable(name: "giaoban-bench", targets: ["GiaobanBench"]),
        .library(name: "GiaobanWire", targets: ["GiaobanWire"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.0"),
    ],
    targets: [
        // MARK: C modules
        .systemLibrary(name: "COpus", pkgConfig: "opus", providers: [.apt(["libopus-dev"])]),
        .systemLibrary(name: "CVPX", pkgConfig: "vpx", providers: [.apt(["libvpx-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CSRTP", pkgConfig: "libsrtp2", providers: [.apt(["libsrtp2-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPostgres", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .target(name: "CAllocCounter"),
        .target(name: "CUDPBatch"),

        // MARK: Wire
        .target(name: "GiaobanWire", swiftSettings: strict),
        .target(name: "GiaobanRTP", dependencies: ["GiaobanWire"], swiftSettings: strict),

        // MARK: Protocol
        .target(name: "GiaobanCodecs", dependencies: ["COpus", "CVPX"], swiftSettings: strict),
        .target(name: "GiaobanCrypto", dependencies: ["COpenSSL"], swiftSettings: strict),
        // libsrtp2, kept as the reference the tests and the benchmark compare SRTPContext with.
        .target(name: "GiaobanSRTP", dependencies: ["CSRTP", "GiaobanCrypto"], swiftSettings: strict),
        .target(name: "GiaobanICE", dependencies: ["GiaobanWire"], swiftSettings: strict),
        // WebM (Matroska/EBML) writing for recordings: pure, no I/O of its own.
        .target(name: "GiaobanRecording", swiftSettings: strict),

        // MARK: Engine
        .target(
            name: "GiaobanEngine",
            dependencies: ["GiaobanWire", "GiaobanRTP", "GiaobanICE", "GiaobanCrypto"],
            swiftSettings: strict
        ),

        // MARK: Edges
        .target(name: "GiaobanAuth", dependencies: ["GiaobanCrypto"], swiftSettings: strict),
        .target(name: "GiaobanRooms", dependencies: ["GiaobanAuth", "GiaobanHub", "GiaobanCrypto"], swiftSettings: strict),
        .target(
            name: "GiaobanHub",
            dependencies: ["GiaobanStore", "GiaobanIncidents", "GiaobanAuth", .product(name: "Logging", package: "swift-log")],
            swiftSettings: strict
        ),
        .target(name: "GiaobanTransport", dependencies: ["CUDPBatch", "GiaobanWire"], swiftSettings: strict),
        .target(name: "GiaobanIncidents", swiftSettings: strict),
        .target(name: "GiaobanStore", dependencies: ["CSQLite", "CPostgres", "GiaobanIncidents", "GiaobanCrypto"], swiftSettings: strict),
        .target(
            name: "GiaobanServer",
            dependencies: [
                "GiaobanEngine", "GiaobanCrypto", "GiaobanWire", "GiaobanRTP", "GiaobanTransport", "GiaobanIncidents", "GiaobanAuth",
                "GiaobanHub", "GiaobanRooms", "GiaobanStore", "GiaobanMixer", "GiaobanRecording", "GiaobanClient",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),

        // MARK: Client
        .target(
            name: "GiaobanClient",
            dependencies: [
                "GiaobanWire", "GiaobanRTP", "GiaobanICE", "GiaobanCrypto", "GiaobanCodecs", "GiaobanTransport", "GiaobanRecording",
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ],
            swiftSettings: strict
        ),

        // MARK: Mixing
        .target(
            name: "GiaobanMixer",
            dependencies: ["GiaobanCodecs", "GiaobanWire", "GiaobanRTP", "GiaobanEngine", "GiaobanTransport"],
            swiftSettings: strict
        ),

        // MARK: Apps
        .executableTarget(
            name: "giaoban",
            dependencies: [
                "GiaobanServer", "GiaobanAuth", "GiaobanHub", "GiaobanStore", "GiaobanEngine", "GiaobanCrypto", "GiaobanClient", "GiaobanCodecs",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "GiaobanBench",
            dependencies: [
                "GiaobanWire", "GiaobanRTP", "GiaobanEngine", "GiaobanSRTP", "GiaobanCrypto", "CAllocCounter", "GiaobanClient", "GiaobanServer",
                "GiaobanMixer", "GiaobanCodecs", "GiaobanTransport", "GiaobanAuth", "GiaobanTestSupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Bench/Sources/GiaobanBench",
            swiftSettings: strict
        ),

        // MARK: Tests
        // Fixtures shared by the store and server suites: a throwaway PostgreSQL server, temporary databases.
        .target(name: "GiaobanTestSupport", dependencies: ["GiaobanStore"], path: "Tests/GiaobanTestSupport",
                swiftSettings: strict),
        .testTarget(name: "GiaobanWireTests", dependencies: ["GiaobanWire", "CAllocCounter"],
                    resources: [.copy("Fixtures")], swiftSettings: strict),
        .testTarget(name: "GiaobanRTPTests", dependencies: ["GiaobanRTP", "GiaobanWire"], swiftSettings: strict),
        .testTarget(name: "GiaobanRoomsTests", dependencies: ["GiaobanRooms", "GiaobanAuth", "GiaobanHub"], swiftSettings: strict),
        .testTarget(name: "GiaobanIncidentsTests", dependencies: ["GiaobanIncidents"], exclude: ["Fixtures"],
                    swiftSettings: strict),
        .testTarget(name: "GiaobanCodecsTests", dependencies: ["GiaobanCodecs"], swiftSettings: strict),
        .testTarget(name: "GiaobanRecordingTests", dependencies: ["GiaobanRecording", "GiaobanCodecs"], swiftSettings: strict),
        .testTarget(name: "GiaobanCryptoTests", dependencies: ["GiaobanCrypto", "GiaobanSRTP", "CAllocCounter"], swiftSettings: strict),
        .testTarget(name: "GiaobanMixerTests", dependencies: ["GiaobanMixer", "GiaobanCodecs", "GiaobanWire", "GiaobanRTP"],
                    swiftSettings: strict),
        .testTarget(name: "GiaobanEngineTests", dependencies: ["GiaobanEngine", "GiaobanRTP", "GiaobanSRTP", "CAllocCounter"],
                    swiftSettings: strict),
        .testTarget(
            name: "GiaobanClientTests",
            dependencies: [
                "GiaobanClient", "GiaobanServer", "GiaobanEngine", "GiaobanCrypto", "GiaobanICE", "GiaobanWire",
                "GiaobanCodecs", "GiaobanRTP", "GiaobanTransport", "GiaobanAuth",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GiaobanStoreTests",
            dependencies: ["GiaobanStore", "GiaobanIncidents", "GiaobanServer", "GiaobanTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "GiaobanServerTests",
            dependencies: [
                "GiaobanServer", "GiaobanStore", "GiaobanIncidents", "GiaobanCrypto", "GiaobanClient", "GiaobanTestSupport", "GiaobanAuth", "GiaobanHub", "GiaobanRooms", "GiaobanTransport", "GiaobanWire",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "HummingbirdWSTesting", package: "hummingbird-websocket"),
            ],
            swiftSettings: strict
        ),
    ]
)
