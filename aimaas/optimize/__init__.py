"""Making trained models smaller and faster: int8 quantization (dynamic and static),
magnitude and channel pruning, and ONNX export served by onnxruntime, each one registered
as a new version with a measured comparison against its parent."""
