import Testing
import VeilAudit
import VeilCore
import VeilCrypto

@Suite struct AuditChainTests {
    @Test func linkIsBLAKE2bOfPreviousAndBody() {
        let body = #"{"action":"x","seq":1}"#
        #expect(AuditChain.link(previous: AuditChain.genesis, body: body) == BLAKE2b.hash256(AuditChain.genesis, Array(body.utf8)))
        #expect(AuditChain.genesis.count == 32)
    }
}
