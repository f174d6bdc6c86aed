import Testing
import VeilCore

@Suite struct EventTypeTests {
    @Test func indexIsThePositionInAllCases() {
        for (position, type) in EventType.allCases.enumerated() {
            #expect(type.index == position, "\(type)")
        }
    }
}
