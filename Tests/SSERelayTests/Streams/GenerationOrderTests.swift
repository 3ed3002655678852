import Testing

@testable import SSERelay

/// ``GenerationOrder``: an order that names its elements without keeping them alive.
@Suite("GenerationOrder")
struct GenerationOrderTests {
    private final class Item: Sendable {
        let number: Int
        init(_ number: Int) { self.number = number }
    }

    @Test("elements come out in order; freed ones are skipped; nothing is kept alive")
    func orderAndWeakness() {
        var order = GenerationOrder<Item>()
        var items = (1...4).map(Item.init)
        for item in items { order.append(item) }
        weak let freed = items[1]
        items.remove(at: 1)
        #expect(freed == nil)
        #expect(order.count == 4)
        #expect(order.popFirst()?.number == 1)
        // Item 2 is gone: its entry is dropped on the way to item 3.
        #expect(order.first()?.number == 3)
        #expect(order.count == 2)
        order.rotateFirst()
        #expect(order.popFirst()?.number == 4)
        #expect(order.popFirst()?.number == 3)
        #expect(order.popFirst() == nil)
        #expect(items.count == 3)
    }

    @Test("retain keeps the live elements that pass, in order")
    func retainFilters() {
        var order = GenerationOrder<Item>()
        var items = (1...6).map(Item.init)
        for item in items { order.append(item) }
        items.removeLast()
        order.retain { $0.number % 2 == 0 }
        #expect(order.count == 2)
        #expect(order.popFirst()?.number == 2)
        #expect(order.popFirst()?.number == 4)
        #expect(items.count == 5)
    }
}
