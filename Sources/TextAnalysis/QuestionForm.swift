/// What form of answer a French question asks for, read from its wording alone: a procedure
/// ("Comment faire une pâte brisée ?", "Quelles sont les étapes…"), an enumeration ("Quelles
/// sont les différentes variantes…", "Quelle différence entre…"), or one fact. A procedure or an
/// enumeration usually runs past one chunk, so retrieval gives the best passage the rest of its
/// section and the extractive answer quotes the steps in order.
public enum QuestionForm: Sendable, Equatable {
    case procedure
    case enumeration
    case fact

    public init(_ question: String) {
        let words = FrenchText.words(question)   // folded
        let set = Set(words)
        let opening = words.prefix(3)
        if !set.isDisjoint(with: ["etape", "etapes", "procedure", "instructions"])
            || (opening.contains("comment") && !set.isDisjoint(with: Self.makingVerbs)) {
            self = .procedure
        } else if !set.isDisjoint(with: ["variantes", "differents", "differentes", "differences", "difference", "types",
                                         "sortes", "liste", "categories", "etats", "formes", "familles"])
                    || (words.first.map { ["quels", "quelles"].contains($0) } == true && set.contains("sont")) {
            self = .enumeration
        } else {
            self = .fact
        }
    }

    /// Verbs of making something in several steps: "comment" with one of them asks for a procedure.
    static let makingVerbs: Set<String> = ["faire", "preparer", "realiser", "fabriquer", "cuisiner", "confectionner", "reussir"]

    /// Does the answer likely need more than one chunk?
    public var needsSection: Bool { self != .fact }
}
