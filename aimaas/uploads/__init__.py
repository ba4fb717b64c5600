"""Uploaded files, judged by their content and checked against hostile input before anything
reads them: data files (``datasets``: CSV, JSONL, NPZ, a zip of image folders) and model
files (``model_uploads``: safetensors, GGUF, ONNX, ``model.json``).

One module per concept: ``limits`` (what a file may cost), ``sniff`` (what the first bytes
say a file is), ``strict_json``, ``lines`` (text lines), ``archives`` (zip guards), one module
per format, and the two entry points. Every refusal is an ``InvalidInput`` naming ``file``
(``refusal``) that says what is wrong and what to send. Nothing is ever unpickled.
"""
