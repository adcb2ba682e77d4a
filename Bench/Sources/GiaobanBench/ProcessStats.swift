import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A forwarder the bench started as its own process, in a temporary directory of its own
/// that holds its log; measured from /proc.
protocol MeasuredProcess: AnyObject {
    /// The running process.
    var process: Process { get }
    /// The temporary directory, removed by `stop()`.
    var directory: String { get }
    /// Where the process writes its log.
    var logPath: String { get }
}

extension MeasuredProcess {
    /// The process id.
    var pid: Int32 { process.processIdentifier }

    /// User + system CPU seconds so far.
    var cpuSeconds: Double { ProcessStats.cpuSeconds(pid: pid) ?? .nan }

    /// CPU seconds of the process's live threads, in nanoseconds' resolution (see
    /// `ProcessStats.threadsCPUSeconds`): for windows too short for `cpuSeconds`' 10 ms ticks.
    var threadsCPUSeconds: Double { ProcessStats.threadsCPUSeconds(pid: pid) ?? cpuSeconds }

    /// Resident memory in KiB.
    var residentKiB: Int { ProcessStats.residentKiB(pid: pid) ?? 0 }

    /// Sends SIGTERM and waits up to 5 s, then SIGKILL; removes the temporary directory.
    func stop() {
        if process.isRunning {
            kill(pid, SIGTERM)
            let deadline = nowNanoseconds() + 5_000_000_000
            while process.isRunning && nowNanoseconds() < deadline { sleep(seconds: 0.02) }
            if process.isRunning { kill(pid, SIGKILL) }
        }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The last lines of the log.
    func logTail(lines: Int = 20) -> String {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        return text.split(separator: "\n").suffix(lines).joined(separator: "\n")
    }
}

/// CPU time and memory of processes and threads, read from /proc and getrusage.
enum ProcessStats {
    /// Clock ticks per second of /proc/<pid>/stat times.
    static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    /// User + system CPU seconds of process `pid` (fields 14 and 15 of /proc/<pid>/stat,
    /// proc(5)); nil when the process is gone. Resolution: one clock tick (10 ms).
    static func cpuSeconds(pid: Int32) -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after "(comm)" start at field 3 (state); utime and stime are fields 14 and 15.
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / ticksPerSecond
    }

    /// The time on CPU of process `pid`'s live threads (only those whose name starts with one
    /// of `prefixes`, when given), summed from the first field of each
    /// /proc/<pid>/task/<tid>/schedstat (nanoseconds; utime and stime in /proc/<pid>/stat count
    /// 10 ms ticks); nil when the process is gone. A thread that ends between two readings takes
    /// its time with it, so use it over windows where the measured threads (a forwarder's) live
    /// throughout.
    static func threadsCPUSeconds(pid: Int32, named prefixes: [String]? = nil) -> Double? {
        let tasks = "/proc/\(pid)/task"
        guard let ids = try? FileManager.default.contentsOfDirectory(atPath: tasks) else { return nil }
        var total = 0.0
        for id in ids {
            if let prefixes {
                guard let name = try? String(contentsOfFile: "\(tasks)/\(id)/comm", encoding: .utf8),
                      prefixes.contains(where: { name.hasPrefix($0) }) else { continue }
            }
            guard let stat = try? String(contentsOfFile: "\(tasks)/\(id)/schedstat", encoding: .utf8),
                  let field = stat.split(separator: " ").first, let nanoseconds = Double(field) else { continue }
            total += nanoseconds / 1e9
        }
        return total
    }

    /// VmRSS of process `pid` in KiB (/proc/<pid>/status), or nil.
    static func residentKiB(pid: Int32) -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return Int(line.dropFirst("VmRSS:".count).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "")
        }
        return nil
    }

    /// Datagrams the kernel dropped because a receive buffer was full, summed over the UDP
    /// sockets process `pid` holds (the drops column of /proc/net/udp and udp6 for the socket
    /// inodes among /proc/<pid>/fd); nil when the process is gone.
    static func udpDrops(pid: Int32) -> Int? {
        guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd") else { return nil }
        var inodes = Set<Substring>()
        for fd in fds {
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)"),
                  target.hasPrefix("socket:[") else { continue }
            inodes.insert(Substring(target.dropFirst("socket:[".count).dropLast()))
        }
        var drops = 0
        for table in ["/proc/net/udp", "/proc/net/udp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                // sl local rem st tx:rx tr:when retrnsmt uid timeout inode ref pointer drops
                let fields = line.split(separator: " ")
                guard fields.count >= 13, inodes.contains(fields[9]) else { continue }
                drops += Int(fields[12]) ?? 0
            }
        }
        return drops
    }

    /// The 1-minute load average (/proc/loadavg): how busy the machine was.
    static func loadAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { Double($0) }
    }

    /// User + system CPU seconds of this whole process (getrusage RUSAGE_SELF), µs resolution.
    static func selfCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return seconds(usage)
    }

    /// User + system CPU seconds of the calling thread (getrusage RUSAGE_THREAD, Linux).
    static func threadCPUSeconds() -> Double {
        var usage = rusage()
        getrusage(1, &usage)  // RUSAGE_THREAD = 1 (a _GNU_SOURCE name, not imported)
        return seconds(usage)
    }

    private static func seconds(_ usage: rusage) -> Double {
        Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }
}

/// Sleeps until the CLOCK_MONOTONIC time `deadline` (ns), the clock `nowNanoseconds` reads.
func sleep(untilNanoseconds deadline: UInt64) {
    var ts = timespec(tv_sec: Int(deadline / 1_000_000_000), tv_nsec: Int(deadline % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
}

/// Sleeps for `seconds`.
func sleep(seconds: Double) {
    sleep(untilNanoseconds: nowNanoseconds() + UInt64(max(0, seconds) * 1e9))
}

/// The path of this executable (/proc/self/exe).
func executablePath() -> String? {
    var buffer = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard n > 0 else { return nil }
    return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The first executable named `name` on $PATH, or nil.
func findOnPath(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for directory in path.split(separator: ":") {
        let candidate = "\(directory)/\(name)"
        if access(candidate, X_OK) == 0 { return candidate }
    }
    return nil
}

/// A free TCP port on 127.0.0.1 (bound, read, released: another process could take it
/// before the caller binds it, which a retry covers).
func freeTCPPort() -> UInt16? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let ok = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    return ok ? UInt16(bigEndian: address.sin_port) : nil
}
