import Testing
import VeilCore

/// `BoundedMemo`: what it makes is what it returns, kept until the memo is full; a throw keeps nothing.
@Suite struct BoundedMemoTests {
    final class Calls: @unchecked Sendable {
        var count = 0
    }

    @Test func remembersWhatItMadeAndForgetsAllWhenFull() {
        let memo = BoundedMemo<Int, String>(capacity: 3)
        let calls = Calls()
        func ask(_ key: Int) -> String {
            memo.value(for: key) { key in
                calls.count += 1
                return "v\(key)"
            }
        }
        #expect(ask(1) == "v1" && ask(2) == "v2" && ask(1) == "v1")
        #expect(calls.count == 2 && memo.count == 2)
        #expect(ask(3) == "v3" && memo.count == 3)
        #expect(ask(4) == "v4")
        #expect(memo.count == 1, "a full memo forgets everything before it keeps the next result")
        #expect(ask(1) == "v1" && calls.count == 5)
    }

    @Test func aThrowingCallRemembersNothing() {
        struct Refused: Error {}
        let memo = BoundedMemo<String, Int>(capacity: 4)
        let calls = Calls()
        for _ in 0..<2 {
            #expect(throws: Refused.self) {
                try memo.value(for: "damaged") { _ throws(Refused) -> Int in
                    calls.count += 1
                    throw Refused()
                }
            }
        }
        #expect(calls.count == 2 && memo.count == 0)
    }
}
