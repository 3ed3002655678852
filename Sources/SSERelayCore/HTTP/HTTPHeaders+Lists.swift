public import NIOHTTP1

extension HTTPHeaders {
    /// Whether a field named `lowercasedName` lists `lowercasedToken`, comparing names and
    /// tokens ignoring ASCII case (both arguments must be lowercase ASCII).
    ///
    /// What `self[canonicalForm: name].contains { $0.lowercased() == token }` answers, reading
    /// the bytes in place instead of lowercasing and splitting copies of every value.
    public func list(_ lowercasedName: StaticString, contains lowercasedToken: StaticString) -> Bool {
        var found = false
        for (name, value) in self where !found && HeaderBytes.name(name, is: lowercasedName) {
            HeaderBytes.forEachListElement(in: value) { element in
                found = found || HeaderBytes.name(element, is: lowercasedToken)
            }
        }
        return found
    }

    /// The last element of the fields named `lowercasedName` read as one comma-separated list,
    /// as it is written (`self[canonicalForm: name].last`), or `nil` when there is none.
    public func lastListElement(_ lowercasedName: StaticString) -> Substring? {
        var last: Substring?
        for (name, value) in self where HeaderBytes.name(name, is: lowercasedName) {
            HeaderBytes.forEachListElement(in: value) { element in
                last = element
            }
        }
        return last
    }
}
