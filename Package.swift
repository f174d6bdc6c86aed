// swift-tools-version:6.2
import PackageDescription

/// Every Veil target is built in Swift 6 language mode with warnings treated as errors.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

/// `VeilWideKernels` is compiled for AVX2 with FMA on x86-64 (run only where the CPU has both, see `CVeilCPU`),
/// and always optimised: unoptimised, it would call `VeilKernels`' unspecialised baseline code, and the
/// debug tests that compare the two paths would compare the baseline with itself.
/// `VeilAVX512Kernels` likewise for AVX-512 (F, VL, DQ, BW) with FMA.
#if arch(x86_64)
let wideKernelFlags: [SwiftSetting] = [.unsafeFlags(["-O", "-Xcc", "-mavx2", "-Xcc", "-mfma"])]
let avx512KernelFlags: [SwiftSetting] = [
    .unsafeFlags([
        "-O", "-Xcc", "-mavx2", "-Xcc", "-mfma", "-Xcc", "-mavx512f", "-Xcc", "-mavx512vl", "-Xcc", "-mavx512dq", "-Xcc",
        "-mavx512bw",
    ])
]
#else
let wideKernelFlags: [SwiftSetting] = [.unsafeFlags(["-O"])]
let avx512KernelFlags: [SwiftSetting] = [.unsafeFlags(["-O"])]
#endif

let package = Package(
    name: "Veil",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "veil", targets: ["veil"]),
        .executable(name: "VeilBench", targets: ["VeilBench"]),
        .executable(name: "VeilFuzz", targets: ["VeilFuzz"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // The system library: libsodium through pkg-config. Only VeilCrypto imports it.
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .target(name: "VeilCore", swiftSettings: strict),
        .target(name: "VeilCrypto", dependencies: ["CSodium", "VeilCore"], swiftSettings: strict),
        // The store contracts (async protocols, records, no backend) and their test suite.
        .target(name: "VeilStore", dependencies: ["VeilCore"], swiftSettings: strict),
        // Test support (imports Testing): the contract every backend's tests run, sealing with the real signer.
        .target(
            name: "VeilStoreContract", dependencies: ["VeilStore", "VeilCore", "VeilCrypto", "VeilAudit"], swiftSettings: strict),
        // Test support: real scratch stores for the use cases' tests.
        .target(
            name: "VeilTestSupport", dependencies: ["VeilStoreSQLite", "VeilStore", "VeilAudit", "VeilCrypto", "VeilCore"],
            swiftSettings: strict),
        // The SQLite backend (GRDB): the only target that knows SQLite.
        .target(
            name: "VeilStoreSQLite",
            dependencies: [
                "VeilStore", "VeilCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        // The PostgreSQL backend (postgres-nio): the same store contracts over one server shared by replicas.
        .target(
            name: "VeilStorePostgres",
            dependencies: [
                "VeilCore", "VeilStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "VeilPolicy",
            dependencies: ["VeilCore", "VeilCrypto", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(name: "VeilAudit", dependencies: ["VeilCore", "VeilCrypto"], swiftSettings: strict),
        // Always optimised: the PLD accountant's transforms run about 100× slower unoptimised, and
        // `make test` (a debug build) runs its known-answer tests against dp_accounting.
        .target(name: "VeilPrivacy", dependencies: ["VeilCore", "VeilCrypto"], swiftSettings: strict + [.unsafeFlags(["-O"])]),
        // The register-tiled matrix product, inlined by the modules below for their own target CPUs.
        .target(name: "VeilKernels", swiftSettings: strict),
        // Header-only: whether the CPU runs VeilWideKernels (AVX2, FMA and the OS saving ymm state) and
        // VeilAVX512Kernels (AVX-512 and the OS saving zmm state): cpuid, xgetbv.
        .systemLibrary(name: "CVeilCPU"),
        // The product compiled for AVX2 with FMA, and for AVX-512 (never inlined elsewhere).
        .target(name: "VeilWideKernels", dependencies: ["VeilKernels"], swiftSettings: strict + wideKernelFlags),
        .target(name: "VeilAVX512Kernels", dependencies: ["VeilKernels"], swiftSettings: strict + avx512KernelFlags),
        .target(
            name: "VeilLearning",
            dependencies: ["VeilCore", "VeilCrypto", "VeilPrivacy", "VeilKernels", "VeilWideKernels", "VeilAVX512Kernels", "CVeilCPU"],
            swiftSettings: strict),
        .target(name: "VeilSynth", dependencies: ["VeilCore", "VeilCrypto"], swiftSettings: strict),
        // Use cases, one module each; the faces (veil, VeilGateway) import the ones they expose.
        .target(name: "VeilAccess", dependencies: ["VeilCore", "VeilCrypto", "VeilStore"], swiftSettings: strict),
        .target(
            name: "VeilLedger",
            dependencies: ["VeilCore", "VeilCrypto", "VeilStore", "VeilPrivacy", "VeilAudit"],
            swiftSettings: strict
        ),
        .target(
            name: "VeilIngest",
            dependencies: ["VeilCore", "VeilCrypto", "VeilStore", "VeilPolicy", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(
            name: "VeilModels",
            dependencies: [
                "VeilCore", "VeilCrypto", "VeilStore", "VeilPrivacy", "VeilLearning", "VeilPolicy", "VeilLedger", "VeilQueries",
            ],
            swiftSettings: strict
        ),
        .target(
            name: "VeilQueries",
            dependencies: ["VeilCore", "VeilCrypto", "VeilStore", "VeilPrivacy", "VeilLedger"],
            swiftSettings: strict
        ),
        // The reviewer's documents: SVG charts and HTML model cards and budget reports (reports and console).
        .target(name: "VeilReport", dependencies: ["VeilCore", "VeilLearning", "VeilLedger", "VeilModels"], swiftSettings: strict),
        // The composition root: opens keys, policy, database and audit log and builds the use cases.
        .target(
            name: "VeilRuntime",
            dependencies: [
                "VeilCore", "VeilCrypto", "VeilStore", "VeilStoreSQLite", "VeilStorePostgres", "VeilPolicy", "VeilAudit",
                "VeilAccess", "VeilLedger", "VeilIngest", "VeilModels", "VeilQueries",
            ],
            swiftSettings: strict
        ),
        // The HTTP face over the use cases (Hummingbird 2).
        .target(
            name: "VeilGateway",
            dependencies: [
                "VeilCore", "VeilCrypto", "VeilAccess", "VeilLedger", "VeilIngest", "VeilModels", "VeilQueries", "VeilRuntime",
                "VeilReport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "veil",
            dependencies: [
                "VeilCore", "VeilCrypto", "VeilStore", "VeilPrivacy", "VeilSynth", "VeilLearning", "VeilPolicy",
                "VeilAudit", "VeilAccess", "VeilLedger", "VeilIngest", "VeilModels", "VeilQueries", "VeilRuntime",
                "VeilGateway", "VeilReport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "VeilBench",
            dependencies: [
                "VeilCore", "VeilCrypto", "VeilPrivacy", "VeilSynth", "VeilLearning", "VeilStore", "VeilAudit",
                "VeilPolicy", "VeilAccess", "VeilLedger", "VeilIngest", "VeilModels", "VeilQueries", "VeilRuntime",
                "VeilGateway", "VeilTestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // Fuzz harnesses over every parser and decoder (bounded in `make test`, long in `make fuzz`).
        .target(
            name: "VeilFuzzing",
            dependencies: [
                "VeilCore", "VeilCrypto", "VeilStore", "VeilStoreSQLite", "VeilPolicy", "VeilAudit", "VeilPrivacy", "VeilIngest",
                "VeilLedger", "VeilModels", "VeilQueries", "VeilGateway",
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "VeilFuzz",
            dependencies: ["VeilFuzzing", .product(name: "ArgumentParser", package: "swift-argument-parser")],
            swiftSettings: strict
        ),
        .testTarget(name: "VeilFuzzingTests", dependencies: ["VeilFuzzing"], swiftSettings: strict),
        .testTarget(name: "VeilCoreTests", dependencies: ["VeilCore", "VeilTestSupport"], swiftSettings: strict),
        .testTarget(name: "VeilTestSupportTests", dependencies: ["VeilTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "VeilReportTests", dependencies: ["VeilReport", "VeilModels", "VeilLedger", "VeilStore", "VeilCore", "VeilPrivacy"],
            swiftSettings: strict),
        .testTarget(
            name: "VeilCryptoTests",
            dependencies: ["VeilCrypto", "VeilCore", "VeilTestSupport"],
            resources: [.copy("Vectors")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeilPrivacyTests",
            dependencies: ["VeilPrivacy", "VeilCrypto", "VeilCore", "VeilTestSupport"],
            resources: [.copy("Resources")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeilLearningTests", dependencies: ["VeilLearning", "VeilPrivacy", "VeilCrypto", "VeilCore", "CVeilCPU"],
            swiftSettings: strict),
        .testTarget(name: "VeilPolicyTests", dependencies: ["VeilPolicy", "VeilCore"], swiftSettings: strict),
        .testTarget(
            name: "VeilAuditTests", dependencies: ["VeilAudit", "VeilCore", "VeilCrypto", "VeilPrivacy", "VeilTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "VeilStoreSQLiteTests",
            dependencies: [
                "VeilStoreSQLite", "VeilStoreContract", "VeilStore", "VeilCore", "VeilCrypto", "VeilAudit",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeilStorePostgresTests",
            dependencies: ["VeilStorePostgres", "VeilStoreContract", "VeilStore", "VeilCore", "VeilCrypto", "VeilAudit", "VeilTestSupport"],
            swiftSettings: strict
        ),
        .testTarget(name: "VeilSynthTests", dependencies: ["VeilSynth", "VeilCore"], swiftSettings: strict),
        .testTarget(
            name: "VeilAccessTests",
            dependencies: ["VeilAccess", "VeilStore", "VeilTestSupport", "VeilCore", "VeilCrypto"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeilIngestTests", dependencies: ["VeilIngest", "VeilStore", "VeilTestSupport", "VeilCore", "VeilCrypto"],
            swiftSettings: strict),
        .testTarget(
            name: "VeilLedgerTests",
            dependencies: ["VeilLedger", "VeilStore", "VeilTestSupport", "VeilPrivacy", "VeilCore", "VeilCrypto", "VeilAudit"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeilModelsTests",
            dependencies: [
                "VeilModels", "VeilRuntime", "VeilLedger", "VeilStore", "VeilTestSupport", "VeilPrivacy", "VeilCore", "VeilCrypto",
                "VeilAudit", "VeilLearning", "VeilSynth",
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeilQueriesTests",
            dependencies: ["VeilQueries", "VeilLedger", "VeilStore", "VeilTestSupport", "VeilPrivacy", "VeilCore", "VeilCrypto"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeilRuntimeTests",
            dependencies: [
                "VeilRuntime", "VeilLedger", "VeilStore", "VeilStoreSQLite", "VeilAudit", "VeilCrypto", "VeilCore", "VeilPolicy",
                "VeilPrivacy", "VeilIngest", .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeilCLITests",
            dependencies: [
                "veil", "VeilQueries", "VeilLedger", "VeilStore", "VeilTestSupport", "VeilCore", "VeilCrypto", "VeilAudit",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            resources: [.copy("Fixtures")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeilGatewayTests",
            dependencies: [
                "VeilGateway", "VeilAccess", "VeilLedger", "VeilIngest", "VeilModels", "VeilQueries", "VeilRuntime", "VeilStore",
                "VeilCrypto", "VeilCore", "VeilPolicy", "VeilTestSupport",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
    ]
)
