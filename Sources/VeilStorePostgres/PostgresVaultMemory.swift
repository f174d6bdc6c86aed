import Foundation
import Logging
import PostgresNIO
import Synchronization
import VeilCore

/// The pseudonyms this process knows to have a committed vault row, so that an import's unit looks
/// up in `vault` only the pseudonyms it does not know: a user who appears in every unit of an import
/// is looked up once, not once per unit. (The lookup of a 50,000-event unit's 31,600 pseudonyms cost
/// the server about 63 ms of CPU, 1.3 µs per event, and the client about as much to send and decode:
/// `docs/deploy.md`, "The import's floor".)
///
/// A cache of the database, never the truth, kept right by these rules:
/// - It learns only what committed: the pseudonyms a transaction found in `vault` or created are
///   added after its COMMIT returned (`learn`), never when it rolled back.
/// - Erasures move a mark: every erasure takes a number from the sequence `vault_erasures` (schema v9)
///   before it deletes a vault row, at once and whether or not it commits (sequences are not
///   transactional). A transaction reads the mark before it trusts the memory (`VaultTransaction.begin`);
///   a memory learned under another mark is dropped. Before the transaction commits it reads the mark
///   again (`VaultTransaction.confirm`): if an erasure took a number meanwhile, the pseudonyms it took
///   from the memory are looked up, and if one has lost its row the transaction fails (nothing of it
///   is stored; writing it again escrows the identity again), and it teaches the memory nothing.
///   The mark includes the `vault` table's oid, so a database dropped and made again (a restore) is
///   another mark too.
/// - An erasure that takes its number after that last read and commits before this COMMIT can delete
///   a row the transaction relied on, as it could before between a unit's lookup and its COPY (the
///   erasure's deletes do not see events that are not committed yet either).
/// - It holds at most `capacity` pseudonyms (about 40 MB); past that it starts over.
///
/// Only imports (`EventStore.commitAll`) use it; the gateway's groups look up every pseudonym.
final class VaultMemory: Sendable {
    /// Where the vault's erasures stand: the sequence's state and the vault table's oid.
    struct Mark: Equatable, Sendable {
        let erasures: Int64
        let called: Bool
        let vault: Int64
    }

    private struct State {
        var mark: Mark?
        var known: Set<Pseudonym> = []
    }

    /// The most pseudonyms remembered; past it the memory starts over.
    static let capacity = 1_000_000

    private let state = Mutex(State())

    /// What the memory knows under `mark`; a memory learned under another mark is dropped first.
    func known(under mark: Mark) -> Set<Pseudonym> {
        state.withLock { state in
            if state.mark != mark {
                state.mark = mark
                state.known = []
            }
            return state.known
        }
    }

    /// Adds what a committed transaction established under `mark` (ignored if the memory has moved
    /// to another mark since).
    func learn(_ pseudonyms: Set<Pseudonym>, under mark: Mark) {
        state.withLock { state in
            guard state.mark == mark else { return }
            state.known.formUnion(pseudonyms)
            if state.known.count > Self.capacity { state.known = [] }
        }
    }

    /// Reads the mark (the sequence's state and the vault's oid) in the caller's transaction.
    static func mark(_ connection: PostgresConnection, logger: Logger) async throws -> Mark {
        var mark: Mark?
        for try await (value, called, vault) in try await connection.query(
            "SELECT last_value, is_called, 'vault'::regclass::oid::bigint FROM vault_erasures", logger: logger
        ).decode((Int64, Bool, Int64).self) {
            mark = Mark(erasures: value, called: called, vault: vault)
        }
        guard let mark else { throw VeilError(.integrity, field: "vault_erasures", "the sequence has no row") }
        return mark
    }

    /// Takes the next erasure number: an erasure calls it in its transaction before deleting vault rows.
    static func erasing(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT nextval('vault_erasures')", logger: logger).drain()
    }
}

/// What one import transaction knows about vault rows (see `VaultMemory`): the pseudonyms it need not
/// look up — the memory's, as of the mark it read first, and those its earlier units found or
/// created — and which of them it relied on.
struct VaultTransaction: Sendable {
    let mark: VaultMemory.Mark
    /// The memory's pseudonyms as of `mark`.
    private let remembered: Set<Pseudonym>
    /// Pseudonyms this transaction found in `vault` or created (the memory learns them after COMMIT).
    private(set) var established: Set<Pseudonym> = []
    /// Pseudonyms this transaction took from `remembered` without a lookup.
    private(set) var relied: Set<Pseudonym> = []

    /// Reads the mark and takes what `memory` knows under it.
    static func begin(_ memory: VaultMemory, _ connection: PostgresConnection, logger: Logger) async throws -> VaultTransaction {
        let mark = try await VaultMemory.mark(connection, logger: logger)
        return VaultTransaction(mark: mark, remembered: memory.known(under: mark))
    }

    private init(mark: VaultMemory.Mark, remembered: Set<Pseudonym>) {
        self.mark = mark
        self.remembered = remembered
    }

    /// Makes room for the distinct pseudonyms of a unit of `events` events in what the transaction
    /// records, so that recording them does not grow (and rehash) its sets one resize at a time.
    mutating func reserveCapacity(forUnitOf events: Int) {
        let room = min(events, VaultMemory.capacity)
        relied.reserveCapacity(relied.count + room)
        established.reserveCapacity(established.count + room)
    }

    /// Whether `pseudonym` needs a lookup; if not, it is counted as relied on (when from the memory).
    mutating func needsLookup(_ pseudonym: Pseudonym) -> Bool {
        if established.contains(pseudonym) { return false }
        guard remembered.contains(pseudonym) else { return true }
        relied.insert(pseudonym)
        return false
    }

    /// `pseudonyms` were looked up and have a row now (found, or created by this transaction).
    mutating func establish(_ pseudonyms: some Sequence<Pseudonym>) {
        guard established.count < VaultMemory.capacity else { return }
        established.formUnion(pseudonyms)
    }

    /// Before COMMIT: nil if no erasure took a number since `begin` (the mark to learn under), else
    /// checks that every pseudonym relied on still has a row (throws if one lost it) and returns nil.
    func confirm(_ connection: PostgresConnection, logger: Logger) async throws -> VaultMemory.Mark? {
        let now = try await VaultMemory.mark(connection, logger: logger)
        guard now != mark else { return mark }
        guard !relied.isEmpty else { return nil }
        var rows = 0
        for try await count in try await connection.query(
            "SELECT count(*) FROM vault WHERE pid = ANY(\(relied.map { ByteBuffer(bytes: $0.bytes) }))", logger: logger
        ).decode(Int.self) { rows = count }
        guard rows == relied.count else {
            throw VeilError(
                .unavailable, field: "vault",
                "a data subject of these events was erased while they were written; nothing of them is stored: write them again")
        }
        return nil
    }
}
