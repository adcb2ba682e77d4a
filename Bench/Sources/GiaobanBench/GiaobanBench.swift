import ArgumentParser

/// `giaoban-bench`: the benchmark harness. Each subcommand is one scenario; each prints a
/// table and can write JSON.
@main
struct GiaobanBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "giaoban-bench",
        abstract: "Measure what the relay adds: per-packet work, latency, CPU and memory.",
        subcommands: [Micro.self, Broadcast.self, Province.self, UDPLoops.self, HubFanout.self, Mixing.self, MixingRelay.self, Downlinks.self, RecordingBench.self, Cascade.self]
    )
}
