// swift-tools-version:6.2
import PackageDescription

/// Every Veil target is built in Swift 6 language mode with warnings treated as errors.
let strict: [SwiftSetting] = [.treatAllWarnings(as: .error)]

let package = Package(
    name: "Veil",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "veil", targets: ["veil"]),
        .executable(name: "VeilBench", targets: ["VeilBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
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
        .target(
            name: "VeilStore",
            dependencies: ["VeilCore", .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: strict
        ),
        .target(name: "VeilPrivacy", dependencies: ["VeilCore", "VeilCrypto"], swiftSettings: strict),
        .target(name: "VeilLearning", dependencies: ["VeilCore"], swiftSettings: strict),
        .target(name: "VeilSynth", dependencies: ["VeilCore", "VeilCrypto"], swiftSettings: strict),
        .target(
            name: "VeilService",
            dependencies: ["VeilCore", "VeilCrypto", "VeilStore", "VeilPrivacy"],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "veil",
            dependencies: [
                "VeilCore", "VeilCrypto", "VeilStore", "VeilPrivacy", "VeilSynth", "VeilService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "VeilBench",
            dependencies: ["VeilCore", "VeilCrypto", "VeilPrivacy", "VeilSynth", "VeilService", "VeilStore"],
            swiftSettings: strict
        ),
        .testTarget(name: "VeilCoreTests", dependencies: ["VeilCore"], swiftSettings: strict),
        .testTarget(
            name: "VeilCryptoTests",
            dependencies: ["VeilCrypto", "VeilCore"],
            resources: [.copy("Vectors")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeilPrivacyTests",
            dependencies: ["VeilPrivacy", "VeilCrypto", "VeilCore"],
            resources: [.copy("Resources")],
            swiftSettings: strict
        ),
        .testTarget(name: "VeilLearningTests", dependencies: ["VeilLearning", "VeilCore"], swiftSettings: strict),
        .testTarget(name: "VeilSynthTests", dependencies: ["VeilSynth", "VeilCore"], swiftSettings: strict),
        .testTarget(
            name: "VeilServiceTests",
            dependencies: ["VeilService", "VeilStore", "VeilPrivacy", "VeilCore", "VeilCrypto"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "VeilCLITests",
            dependencies: ["veil", "VeilService", "VeilStore", "VeilCore", "VeilCrypto"],
            swiftSettings: strict
        ),
    ]
)
