import CAllocCounter

#if canImport(Glibc)
import Glibc
#endif

/// One micro-benchmark's result: time and allocations per operation.
struct MicroResult: Codable {
    let name: String
    let iterations: Int
    /// Nanoseconds per operation, best round.
    let nsPerOpBest: Double
    /// Nanoseconds per operation, median round.
    let nsPerOpMedian: Double
    /// Heap allocations per operation (from the per-thread allocation counter).
    let allocationsPerOp: Double
}

/// Monotonic nanoseconds.
@inline(__always) func nowNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Runs `body` `iterations` times per round for `rounds` rounds after a warm-up round;
/// returns the best and median time per operation and allocations per operation.
func measure(_ name: String, iterations: Int, rounds: Int = 7, _ body: (Int) -> Void) -> MicroResult {
    for i in 0..<min(iterations, 10_000) { body(i) }  // warm-up
    var times: [Double] = []
    var allocations: UInt64 = 0
    for _ in 0..<rounds {
        let a0 = giaoban_thread_allocations()
        let t0 = nowNanoseconds()
        for i in 0..<iterations { body(i) }
        let t1 = nowNanoseconds()
        allocations += giaoban_thread_allocations() - a0
        times.append(Double(t1 - t0) / Double(iterations))
    }
    times.sort()
    return MicroResult(name: name, iterations: iterations, nsPerOpBest: times[0], nsPerOpMedian: times[times.count / 2],
                       allocationsPerOp: Double(allocations) / Double(iterations * rounds))
}

/// Prints results as an aligned table.
func printTable(_ results: [MicroResult]) {
    let width = max(10, results.map(\.name.count).max() ?? 10)
    func pad(_ s: String, _ n: Int, left: Bool = false) -> String {
        s.count >= n ? s : (left ? s + String(repeating: " ", count: n - s.count) : String(repeating: " ", count: n - s.count) + s)
    }
    func fmt(_ v: Double) -> String {
        let r = (v * 10).rounded() / 10
        return String(r)
    }
    print(pad("benchmark", width, left: true) + "  " + pad("ns/op best", 11) + "  " + pad("ns/op median", 12) + "  " + pad("allocs/op", 9))
    print(String(repeating: "-", count: width + 40))
    for r in results {
        print(pad(r.name, width, left: true) + "  " + pad(fmt(r.nsPerOpBest), 11) + "  " + pad(fmt(r.nsPerOpMedian), 12)
            + "  " + pad(fmt(r.allocationsPerOp), 9))
    }
}
