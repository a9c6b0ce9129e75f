"""The index: everything under a knowledge base's `index/` folder, derived from the records and rebuilt
from them at will. One file per thing on disk (`manifest`, `chroma`, `snapshot`, `keyword`, `encoder` and
`onnx`), one per step (`build`: bringing it up to date or rebuilding it; `search`: answering queries);
`vectors` ranks by meaning over the snapshot or Chroma, `passages` says what is embedded for a paper,
`snippets` what a result shows."""
