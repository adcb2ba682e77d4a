import GiaobanCrypto
import GiaobanServer
import Logging
import ServiceLifecycle
import Synchronization
import Testing

@Suite("Graceful shutdown of the server's services")
struct ServiceShutdownTests {
    /// A service standing for the HTTP server (listed after the media): on graceful shutdown it
    /// notes whether the media thread was still running when its turn came.
    final class Probe: Service {
        let media: MediaServer
        let mediaRunningAtShutdown = Mutex<Bool?>(nil)

        init(media: MediaServer) { self.media = media }

        func run() async throws {
            try? await gracefulShutdown()
            let running = media.isRunning
            mediaRunningAtShutdown.withLock { $0 = running }
        }
    }

    @Test("the media thread stops on graceful shutdown, after the services started after it")
    func mediaStopsLast() async throws {
        let logger = Logger(label: "test")
        let media = try MediaServer(address: "127.0.0.1", port: 0, announcedAddress: "", certificate: try DTLSCertificate(),
                                    logger: logger)
        #expect(media.isRunning)
        let probe = Probe(media: media)
        let group = ServiceGroup(configuration: .init(services: [MediaService(media: media), probe], logger: logger))
        let running = Task { try await group.run() }
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(probe.mediaRunningAtShutdown.withLock { $0 } == true, "the later service stopped while the media still ran")
        #expect(!media.isRunning, "the media thread stopped")
    }
}
