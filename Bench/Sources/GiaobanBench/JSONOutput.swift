import Foundation

/// The JSON document: when and where the figures were taken, and the figures.
struct BenchEnvelope<R: Encodable>: Encodable {
    let date: String
    let machine: String
    let results: R
}

/// Writes benchmark results as pretty-printed JSON with the date and machine.
func writeJSON<T: Encodable>(_ results: T, to path: String) throws {
    var uts = utsname()
    uname(&uts)
    let machine = withUnsafeBytes(of: &uts.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    let cores = ProcessInfo.processInfo.activeProcessorCount
    let envelope = BenchEnvelope(date: ISO8601DateFormatter().string(from: Date()),
                            machine: "\(machine), \(cores) cores", results: results)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    try encoder.encode(envelope).write(to: URL(fileURLWithPath: path))
    print("wrote \(path)")
}
