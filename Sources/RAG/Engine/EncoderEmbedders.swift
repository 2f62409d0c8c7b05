import Encoder
import Index

/// The sentence encoder embeds chunks and questions for the index as is. Declared here, where the
/// engine hands the encoder to the index, so that `Index` does not depend on `Encoder`; the CLI,
/// the evaluation, the benches and the tests see it through `RAG`.
extension SentenceEncoder: ChunkEmbedder, QueryEmbedder {}
